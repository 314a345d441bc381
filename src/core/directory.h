#ifndef MASHANG_DIRECTORY_H
#define MASHANG_DIRECTORY_H
/* Publishes what the Redis scripts need to word and address replies —
 * reply templates, category names, the roster's deputies, stations and
 * committee — as one hash "{ns}:cfg:<digest>".  The digest changes with
 * the content, so instances running different versions never see each
 * other's texts, and a reload is a new key rather than an edit. */
#include "core/app.h"

/* Recomputes app->digest from app->cfg and app->roster.  Returns 0, -1 on OOM. */
int directory_prepare(struct app *app);
/* Writes the hash (idempotent).  Called on every Redis (re)connect and
 * after a reload.  Returns 0 if the command was sent. */
int directory_publish(struct app *app);

#endif
