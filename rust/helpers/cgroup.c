// SPDX-License-Identifier: GPL-2.0

#include <linux/cgroup.h>

#ifdef CONFIG_CGROUPS
u64 rust_helper_cgroup_id(const struct cgroup *cgrp)
{
	return cgroup_id(cgrp);
}

struct cgroup *rust_helper_cgroup_parent(struct cgroup *cgrp)
{
	return cgroup_parent(cgrp);
}

void rust_helper_cgroup_put(struct cgroup *cgrp)
{
	cgroup_put(cgrp);
}
#endif
