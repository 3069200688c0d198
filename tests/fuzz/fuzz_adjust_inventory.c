/* fuzz_adjust_inventory: validate_adjust_inventory (api/command/validate.c) on arbitrary bodies. */
#include "fuzz.h"
#include "api/command/validate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    return fuzz_validator(validate_adjust_inventory, data, size);
}
