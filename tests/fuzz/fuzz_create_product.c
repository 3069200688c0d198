/* fuzz_create_product: validate_create_product (api/command/validate.c) on arbitrary bodies. */
#include "fuzz.h"
#include "api/command/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_validator(validate_create_product, data, size);
}
