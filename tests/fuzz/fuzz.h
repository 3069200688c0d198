/* fuzz: what the libFuzzer targets in tests/fuzz share.
 *
 * Each tests/fuzz/fuzz_<target>.c defines LLVMFuzzerTestOneInput and nothing else exported. It
 * is linked either with libFuzzer (clang -fsanitize=fuzzer,address,undefined: `make fuzz`) or
 * with tests/fuzz/replay.c, a plain main that runs the seed corpus and the crash regressions
 * through it in the ordinary sanitizer build (a unit-test binary, $(BUILD)/tests/fuzz_<target>).
 *
 * A target checks properties, not only "no crash": a broken property calls fuzz_fail(), which
 * prints what broke and aborts, so libFuzzer saves the input as a crash. */
#ifndef CQ_FUZZ_H
#define CQ_FUZZ_H

#include "http/api_error.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A body validator's signature (api/command/validate.h). */
typedef int (*fuzz_validator_fn)(const char *body, size_t len, struct api_error *err);

/* Prints "fuzz property broken: ..." to stderr and aborts. */
__attribute__((noreturn, format(printf, 1, 2))) void fuzz_fail(const char *fmt, ...);

/* Copies data into a new heap block of exactly size bytes (no terminator, so that the sanitizer
 * catches any read past the end), or of size + 1 with a NUL when terminate is set. The caller
 * frees it. */
char *fuzz_copy(const uint8_t *data, size_t size, int terminate);

/* Checks a refusal: a known code, the status that code has in docs/api.md, a message, a field
 * for validation errors, and an error body that is valid JSON carrying the same code. */
void fuzz_check_error(const struct api_error *err);

/* Whether s[0..n) is well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF). Independent of jansson's own check, so the two can be compared. */
int fuzz_utf8_valid(const unsigned char *s, size_t n);

/* Runs validate on the input and checks what every validator promises: 0 or -1; a refusal is a
 * well-formed 400 (fuzz_check_error); an accepted body is a JSON object of well-formed UTF-8
 * without duplicate keys or NUL characters, and is accepted again (no hidden state). */
int fuzz_validator(fuzz_validator_fn validate, const uint8_t *data, size_t size);

#endif
