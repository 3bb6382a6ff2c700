// SPDX-License-Identifier: GPL-2.0

#include <linux/seqlock.h>

/* All seqlocks initialised from Rust share one lockdep class. */
void rust_helper_seqlock_init(seqlock_t *sl)
{
	seqlock_init(sl);
}

unsigned int rust_helper_read_seqbegin(const seqlock_t *sl)
{
	return read_seqbegin(sl);
}

unsigned int rust_helper_read_seqretry(const seqlock_t *sl, unsigned int start)
{
	return read_seqretry(sl, start);
}

void rust_helper_write_seqlock(seqlock_t *sl)
{
	write_seqlock(sl);
}

void rust_helper_write_sequnlock(seqlock_t *sl)
{
	write_sequnlock(sl);
}
