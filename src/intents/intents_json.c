/* An intent result as the JSON document the tools print. */
#include "intents/intents_json.h"

const char *intent_kind_name(enum intent_kind k)
{
    switch (k) {
    case INTENT_CONCERN: return "concern";
    case INTENT_CHAT: return "chat";
    case INTENT_COMMAND: return "command";
    default: return "none";
    }
}

json_t *intent_result_json(const char *text, size_t len, const char *normalized,
                           const struct intent_result *r, double us)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    json_t *t = json_stringn(text, len);   /* NULL if not UTF-8 */
    json_object_set_new(o, "text", t ? t : json_null());
    if (!r || !normalized) {
        json_object_set_new(o, "error", json_string("invalid UTF-8"));
    } else {
        json_object_set_new(o, "normalized", json_string(normalized));
        json_object_set_new(o, "intent", r->intent ? json_string(r->intent) : json_null());
        json_object_set_new(o, "kind", json_string(intent_kind_name(r->kind)));
        json_object_set_new(o, "label", r->label ? json_string(r->label) : json_null());
        json_object_set_new(o, "title", r->title ? json_string(r->title) : json_null());
        json_object_set_new(o, "priority", json_integer(r->priority));
        json_object_set_new(o, "confidence", json_real(r->confidence));
        json_object_set_new(o, "rule", json_boolean(r->by_rule));
        json_object_set_new(o, "certain", json_boolean(r->certain));
        json_object_set_new(o, "review", json_boolean(r->review));
        json_t *alts = json_array();
        for (size_t i = 0; i < r->nalts; i++)
            json_array_append_new(alts, json_pack("{s:s,s:f}", "label", r->alts[i].label, "p",
                                                  r->alts[i].p));
        json_object_set_new(o, "top", alts);
        json_t *slots = json_object();
        for (size_t i = 0; i < r->nslots; i++)
            json_object_set_new(slots, r->slots[i].name, json_string(r->slots[i].value));
        json_object_set_new(o, "slots", slots);
        json_t *needs = json_array();
        for (const char *const *n = r->needs; n && *n; n++)
            json_array_append_new(needs, json_string(*n));
        json_object_set_new(o, "needs", needs);
        json_t *cands = json_array();
        for (size_t i = 0; i < r->ncandidates; i++) {
            const struct intent_candidate *c = &r->candidates[i];
            json_array_append_new(cands, json_pack("{s:s,s:s,s:i,s:I,s:I}", "intent", c->intent,
                                                   "label", c->label, "priority", c->priority,
                                                   "start", (json_int_t)c->start, "end",
                                                   (json_int_t)c->end));
        }
        json_object_set_new(o, "candidates", cands);
    }
    json_object_set_new(o, "us", json_real(us));
    return o;
}
