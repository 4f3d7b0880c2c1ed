/* gen_vectors.h — the output helpers gen_vectors.c shares with the generators
 * of its other files (gen_mail.c). */
#ifndef LOTSE_GEN_VECTORS_H
#define LOTSE_GEN_VECTORS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

extern FILE *out;              /* the vector file being written */
extern const char *corpus_dir; /* NULL: no fuzz seeds */

_Noreturn void die(const char *what);
void put_hex(const char *name, const uint8_t *b, size_t n);
void put_u64(const char *name, unsigned long long v);
void put_str(const char *name, const char *v);
void begin_case(const char *name, const char *comment);
/* Writes "expect = ..." after checking that the library returned want. */
void expect(int rc, int want);
void corpus_file(const char *target, const char *name, const void *b, size_t n);
FILE *open_out(const char *dir, const char *file, const char *header);

void gen_mail(const char *dir);
struct lotse_channel;
/* op = seal of msg as inner type `type` with a copy of tx; returns what
 * lotse_channel_seal returned, the frame in *frame_out (may be NULL; valid until
 * the next call). op = open of frame with a copy of rx. */
int seal_case(const char *name, const char *comment, const struct lotse_channel *tx, uint8_t type,
              const uint8_t *msg, size_t len, int want, const uint8_t **frame_out);
void open_case(const char *name, const char *comment, const struct lotse_channel *rx,
               const uint8_t *frame, size_t len, int want);
/* The timed text and typing cases of crypto.txt (gen_inner.c), with the
 * session's pristine channels. */
void gen_inner_cases(const struct lotse_channel *ys, const struct lotse_channel *cs);
/* The organisation certificate and chain cases of crypto.txt (gen_chain.c). */
void gen_chain_cases(void);

#endif
