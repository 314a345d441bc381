#ifndef MASHANG_ADMIN_TEACH_H
#define MASHANG_ADMIN_TEACH_H
/* The teach loop's decisions (src/admin/admin_teach.c): when an administrator
 * corrects a case's category, whether the case moves and to whom.  Pure
 * functions, unit-tested; the Redis work is in src/store/lua/admin.lua and the
 * move itself is step_assign. */
#include <stdbool.h>
#include <stddef.h>

/* A deputy of the corrected category's topic group and their open cases. */
struct teach_candidate {
    const char *id;
    long long open;
};

/* A corrected category moves the case only while it still waits for its
 * deputy (assigned: not accepted yet, and a state a transfer may leave)
 * and when the rule that chose the deputy depended on the category:
 * "topic", or "default" (the old category had no topic group; the new
 * one may).  A deputy named by the resident, bound by a scan, found by
 * the place, or set by a transfer is kept. */
bool teach_reroutes(const char *state, const char *routed_by);

/* The deputy a new case of the corrected category would get, once the
 * place-based rules did not apply: the topic group member with the fewest
 * open cases (the first listed on a tie), else `fallback` (the default
 * station's liaison, may be NULL).  `*rule` is set to "topic" or
 * "default".  NULL when there is nobody. */
const char *teach_pick(const struct teach_candidate *topic, size_t n, const char *fallback,
                       const char **rule);

#endif
