/* roster_load on a fuzzed deputies.json: stations, deputies, duty days,
 * phone normalisation and cross references.  A roster that loads is
 * looked up the way routing does. */
#include <stdint.h>
#include <string.h>

#include "fuzz_common.h"
#include "base/diag.h"
#include "core/roster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const cleanup_names[] = { "deputies.json", NULL };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int once;
    struct roster r;
    struct diag d;

    if (!once) {
        fuzz_cleanup_at_exit(cleanup_names);
        once = 1;
    }
    if (size > 65536)
        return 0;
    const char *path = fuzz_write_file("deputies.json", data, size);
    diag_init(&d);
    if (roster_load(path, "86", &r, &d) == 0) {
        for (size_t i = 0; i < r.ndeputies; i++) {
            const struct deputy *dep = &r.deputies[i];
            FUZZ_CHECK(roster_deputy(&r, dep->id) != NULL);
            FUZZ_CHECK(roster_station(&r, dep->station) != NULL);
            if (dep->phone)
                FUZZ_CHECK(roster_deputy_by_phone(&r, dep->phone) != NULL);
            if (dep->wechat)
                FUZZ_CHECK(roster_deputy_by_wechat(&r, dep->wechat) != NULL);
            for (int wd = 0; wd < 7; wd++)
                deputy_on_duty(dep, wd, wd * 5 + 1);
            deputy_has_topic(dep, "roads");
        }
        for (size_t i = 0; i < r.nstations; i++)
            FUZZ_CHECK(roster_station(&r, r.stations[i].id) != NULL);
        roster_deputy_by_phone(&r, "13800138000");
        roster_free(&r);
    } else {
        FUZZ_CHECK(d.n > 0);
    }
    diag_free(&d);
    return 0;
}
