/* Small helpers shared by every module: cleanup attributes, ownership transfer, array size. */
#pragma once

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _likely_(x)    __builtin_expect(!!(x), 1)
#define _unlikely_(x)  __builtin_expect(!!(x), 0)

#define ELEMENTSOF(x) (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b)     ((a) < (b) ? (a) : (b))
#define MAX(a, b)     ((a) > (b) ? (a) : (b))

#define USEC_PER_SEC  1000000ULL
#define USEC_PER_MSEC 1000ULL

/* Returns the value of *p and sets *p to NULL: hands ownership to the caller. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _p = (p);                                                            \
		(p) = NULL;                                                                        \
		_p;                                                                                \
	})

/* Same for file descriptors. */
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _fd = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_fd;                                                                               \
	})

static inline void freep(void *p)
{
	free(*(void **)p);
}
#define _cleanup_free_ _cleanup_(freep)

static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
#define _cleanup_close_ _cleanup_(closep)

static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Declares a cleanup helper for a type whose destructor is type_free(). */
#define DEFINE_FREE_FUNC(type, func)                                                               \
	static inline void func##p(type **p)                                                       \
	{                                                                                          \
		if (*p)                                                                            \
			func(*p);                                                                  \
	}

/* Grows a malloc'ed array by one zeroed element; returns a pointer to it or NULL (array
 * untouched) when out of memory. */
static inline void *array_grow(void *arrayp, size_t *n, size_t size)
{
	void **a = arrayp;
	char *p = realloc(*a, (*n + 1) * size);
	if (!p)
		return NULL;
	*a = p;
	p += *n * size;
	for (size_t i = 0; i < size; i++)
		p[i] = 0;
	(*n)++;
	return p;
}
#define ARRAY_GROW(arr, n) ((__typeof__(arr))array_grow(&(arr), &(n), sizeof(*(arr))))

/* Makes room for at least need elements (doubling, from 64): returns 0, or -ENOMEM with the
 * array untouched. */
static inline int array_reserve(void *arrayp, size_t *cap, size_t need, size_t size)
{
	void **a = arrayp;
	if (need <= *cap)
		return 0;
	size_t c = *cap ? *cap : 64;
	while (c < need)
		c *= 2;
	void *p = realloc(*a, c * size);
	if (!p)
		return -ENOMEM;
	*a = p;
	*cap = c;
	return 0;
}
#define ARRAY_RESERVE(arr, cap, need) array_reserve(&(arr), &(cap), (need), sizeof(*(arr)))
