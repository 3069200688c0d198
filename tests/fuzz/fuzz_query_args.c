/* fuzz_query_args: the query API's pure argument parsers on arbitrary text: query_valid_date
 * (from/to of the daily sales) and config_parse_long (limit, offset: query_int_arg). */
#include "base/config.h"
#include "fuzz.h"
#include "api/query/query.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static void check_date(const char *s)
{
    struct tm tm;
    time_t t;
    int y, m, d;

    if (!query_valid_date(s))
        return;
    /* a date it accepts is a real calendar day: it survives a round trip through timegm */
    y = atoi(s);
    m = atoi(s + 5);
    d = atoi(s + 8);
    if (strlen(s) != 10 || y < 1 || y > 9999)
        fuzz_fail("accepted date \"%s\"", s);
    memset(&tm, 0, sizeof tm);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    t = timegm(&tm);
    gmtime_r(&t, &tm);
    if (tm.tm_year != y - 1900 || tm.tm_mon != m - 1 || tm.tm_mday != d)
        fuzz_fail("accepted date \"%s\" is not a calendar day", s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const long bounds[][2] = {{1, 1000}, {0, 2147483647L}, {1, 100}, {-1, 1}};
    char *s;
    long v = 0x5A5A;

    if (size < 1 || size > 64)
        return 0;
    s = fuzz_copy(data + 1, size - 1, 1);
    check_date(s);
    const long *b = bounds[data[0] % 4];
    if (config_parse_long(s, b[0], b[1], &v) == 0) {
        if (v < b[0] || v > b[1])
            fuzz_fail("config_parse_long(\"%s\") gave %ld outside [%ld, %ld]", s, v, b[0], b[1]);
        if (strtol(s, NULL, 10) != v)
            fuzz_fail("config_parse_long(\"%s\") gave %ld", s, v);
    } else if (v != 0x5A5A) {
        fuzz_fail("config_parse_long(\"%s\") failed but wrote %ld", s, v);
    }
    free(s);
    return 0;
}
