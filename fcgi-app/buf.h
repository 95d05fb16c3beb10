/*
 * A growable byte buffer.  Owned by whoever declared it; reset between
 * requests instead of freed, so a worker reaches a steady state with no
 * allocation on the hot path.
 */
#ifndef BUF_H
#define BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
	char	*data;	/* always NUL-terminated once anything is appended */
	size_t	 len;
	size_t	 cap;
};

int	 buf_reserve(struct buf *, size_t);
int	 buf_append(struct buf *, const void *, size_t);
int	 buf_puts(struct buf *, const char *);
int	 buf_putc_slow(struct buf *, char);
int	 buf_printf(struct buf *, const char *, ...)
	    __attribute__((format(printf, 2, 3)));
int	 buf_vprintf(struct buf *, const char *, va_list);
/* Decimal digits of n, without printf. */
int	 buf_put_i64(struct buf *, long long n);
void	 buf_reset(struct buf *);

/* Inline: the encoders call it for every quote, comma and bracket. */
static inline int
buf_putc(struct buf *b, char c)
{
	if (b->len + 1 >= b->cap)
		return buf_putc_slow(b, c);
	b->data[b->len++] = c;
	b->data[b->len] = '\0';
	return 0;
}
void	 buf_free(struct buf *);

#endif
