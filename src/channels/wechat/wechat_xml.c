/* WeChat push XML over expat.  See wechat_xml.h.
 *
 * WeChat bodies are flat: <xml> and one level of children.  The parser
 * keeps only those children, refuses any DTD outright (no entity can
 * ever be declared, so none can be expanded or fetched), and validates
 * UTF-8 itself because expat's checks depend on the declared encoding. */
#include "channels/wechat/wechat_xml.h"
#include "base/utf8.h"

#include <expat.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *wechat_xml_strerror(int err)
{
    switch (err) {
    case WXML_OK: return "ok";
    case WXML_ETOO_LARGE: return "too_large";
    case WXML_EENCODING: return "invalid_utf8";
    case WXML_EDTD: return "dtd_refused";
    case WXML_ESYNTAX: return "malformed_xml";
    case WXML_EDUPLICATE: return "duplicate_field";
    case WXML_EARG: return "bad_argument";
    case WXML_ENOMEM: return "out_of_memory";
    }
    return "unknown";
}

/* ---- growable byte buffer ---------------------------------------------------- */

struct buf {
    char *data;   /* owned; NUL-terminated when len > 0 or after buf_take */
    size_t len;
    size_t cap;
    bool oom;     /* sticky: any failed append poisons the buffer */
};

static void buf_append(struct buf *b, const char *s, size_t n)
{
    if (b->oom)
        return;
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        char *d = realloc(b->data, cap);
        if (!d) {
            b->oom = true;
            return;
        }
        b->data = d;
        b->cap = cap;
    }
    memcpy(b->data + b->len, s, n);
    b->len += n;
    b->data[b->len] = '\0';
}

static void buf_puts(struct buf *b, const char *s)
{
    buf_append(b, s, strlen(s));
}

/* Hands the bytes to the caller (who frees them); NULL after OOM. */
static char *buf_take(struct buf *b, size_t *out_len)
{
    if (!b->oom && !b->data)
        buf_append(b, "", 0);
    if (b->oom) {
        free(b->data);
        memset(b, 0, sizeof(*b));
        return NULL;
    }
    char *d = b->data;
    if (out_len)
        *out_len = b->len;
    memset(b, 0, sizeof(*b));
    return d;
}

/* ---- parsing ---------------------------------------------------------------- */

struct field_def {
    const char *name;
    size_t offset;
};

#define FIELD(name, member) { name, offsetof(struct wechat_msg, member) }
static const struct field_def fields[] = {
    FIELD("ToUserName", to_user_name),   FIELD("FromUserName", from_user_name),
    FIELD("CreateTime", create_time),    FIELD("MsgType", msg_type),
    FIELD("Content", content),           FIELD("MsgId", msg_id),
    FIELD("MsgID", msg_id),              FIELD("Event", event),
    FIELD("EventKey", event_key),        FIELD("Ticket", ticket),
    FIELD("Status", status),             FIELD("Location_X", location_x),
    FIELD("Location_Y", location_y),     FIELD("Scale", scale),
    FIELD("Label", label),               FIELD("Latitude", latitude),
    FIELD("Longitude", longitude),       FIELD("Precision", precision),
    FIELD("Recognition", recognition),   FIELD("MediaId", media_id),
    FIELD("Format", format),             FIELD("PicUrl", pic_url),
    FIELD("Title", title),               FIELD("Description", description),
    FIELD("Url", url),                   FIELD("AgentID", agent_id),
    FIELD("Encrypt", encrypt),
};
#undef FIELD

struct parse_ctx {
    XML_Parser parser;
    struct wechat_msg *msg;
    int depth;            /* 1 inside <xml>, 2 inside one of its children */
    char **field;         /* the struct member being collected, or NULL */
    struct buf text;
    int err;              /* first error raised by a handler */
};

static void fail(struct parse_ctx *c, int err)
{
    if (!c->err)
        c->err = err;
    XML_StopParser(c->parser, XML_FALSE);
}

static char **field_slot(struct wechat_msg *m, const char *name)
{
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (strcmp(fields[i].name, name) == 0)
            return (char **)((char *)m + fields[i].offset);
    }
    return NULL;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **attrs)
{
    struct parse_ctx *c = ud;
    (void)attrs;
    if (c->err)
        return;
    c->depth++;
    if (c->depth == 1) {
        if (strcmp(name, "xml") != 0)
            fail(c, WXML_ESYNTAX);
    } else if (c->depth == 2) {
        char **slot = field_slot(c->msg, name);
        if (slot && *slot) {
            fail(c, WXML_EDUPLICATE);
            return;
        }
        c->field = slot;
        c->text.len = 0;
        if (c->text.data)
            c->text.data[0] = '\0';
    }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
    struct parse_ctx *c = ud;
    (void)name;
    if (c->err)
        return;
    if (c->depth == 2 && c->field) {
        char *v = malloc(c->text.len + 1);
        if (!v || c->text.oom) {
            free(v);
            fail(c, WXML_ENOMEM);
            return;
        }
        memcpy(v, c->text.data ? c->text.data : "", c->text.len);
        v[c->text.len] = '\0';
        *c->field = v;
        c->field = NULL;
    }
    c->depth--;
}

/* Called for plain text and CDATA alike, possibly in several pieces. */
static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
    struct parse_ctx *c = ud;
    if (!c->err && c->depth == 2 && c->field)
        buf_append(&c->text, s, (size_t)len);
}

static void XMLCALL on_doctype(void *ud, const XML_Char *name, const XML_Char *sysid,
                               const XML_Char *pubid, int has_internal_subset)
{
    (void)name; (void)sysid; (void)pubid; (void)has_internal_subset;
    fail(ud, WXML_EDTD);
}

static void XMLCALL on_entity_decl(void *ud, const XML_Char *name, int is_param,
                                   const XML_Char *value, int value_len,
                                   const XML_Char *base, const XML_Char *sysid,
                                   const XML_Char *pubid, const XML_Char *notation)
{
    (void)name; (void)is_param; (void)value; (void)value_len;
    (void)base; (void)sysid; (void)pubid; (void)notation;
    fail(ud, WXML_EDTD);
}

static int XMLCALL on_external_entity(XML_Parser p, const XML_Char *context,
                                      const XML_Char *base, const XML_Char *sysid,
                                      const XML_Char *pubid)
{
    (void)p; (void)context; (void)base; (void)sysid; (void)pubid;
    return XML_STATUS_ERROR;   /* never fetch anything */
}

void wechat_msg_clear(struct wechat_msg *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        char **slot = (char **)((char *)m + fields[i].offset);
        free(*slot);
        *slot = NULL;   /* MsgId and MsgID share a slot: never free twice */
    }
    memset(m, 0, sizeof(*m));
}

static int64_t parse_seconds(const char *s)
{
    int64_t v = 0;
    if (!s || !*s)
        return 0;
    for (size_t i = 0; s[i]; i++) {
        if (s[i] < '0' || s[i] > '9' || i >= 18)
            return 0;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

int wechat_xml_parse(const char *xml, size_t len, struct wechat_msg *out)
{
    if (!out)
        return WXML_EARG;
    memset(out, 0, sizeof(*out));
    if (!xml)
        return WXML_EARG;
    if (len > WECHAT_XML_MAX_BYTES)
        return WXML_ETOO_LARGE;
    if (!utf8_valid(xml, len))
        return WXML_EENCODING;

    struct parse_ctx c;
    memset(&c, 0, sizeof(c));
    c.msg = out;
    /* Forcing UTF-8 overrides any encoding="..." in the declaration. */
    c.parser = XML_ParserCreate("UTF-8");
    if (!c.parser)
        return WXML_ENOMEM;
    XML_SetUserData(c.parser, &c);
    XML_SetElementHandler(c.parser, on_start, on_end);
    XML_SetCharacterDataHandler(c.parser, on_text);
    XML_SetStartDoctypeDeclHandler(c.parser, on_doctype);
    XML_SetEntityDeclHandler(c.parser, on_entity_decl);
    XML_SetExternalEntityRefHandler(c.parser, on_external_entity);
    XML_SetParamEntityParsing(c.parser, XML_PARAM_ENTITY_PARSING_NEVER);

    /* len <= 1 MiB, so the int conversion is exact. */
    enum XML_Status st = XML_Parse(c.parser, xml, (int)len, 1);
    int err = c.err;
    if (!err && st != XML_STATUS_OK)
        err = XML_GetErrorCode(c.parser) == XML_ERROR_NO_MEMORY ? WXML_ENOMEM : WXML_ESYNTAX;
    if (!err && c.text.oom)
        err = WXML_ENOMEM;
    XML_ParserFree(c.parser);
    free(c.text.data);

    if (err) {
        wechat_msg_clear(out);
        return err;
    }
    if (out->event) {
        for (char *p = out->event; *p; p++) {
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        }
    }
    out->create_time_s = parse_seconds(out->create_time);
    return WXML_OK;
}

/* ---- building --------------------------------------------------------------- */

/* Appends `s` as one or more CDATA sections.  "]]>" would end the section
 * early, so it is split across two: "]]" + "]]><![CDATA[" + ">".  Control
 * characters XML 1.0 forbids even in CDATA, and U+FFFE/U+FFFF, are
 * dropped so the reply always parses.  `s` must be valid UTF-8. */
static void append_cdata(struct buf *b, const char *s)
{
    buf_puts(b, "<![CDATA[");
    const unsigned char *p = (const unsigned char *)s;
    size_t run = 0;   /* bytes of p copied verbatim in the next flush */
    for (size_t i = 0; p[i];) {
        if (p[i] == ']' && p[i + 1] == ']' && p[i + 2] == '>') {
            buf_append(b, (const char *)p + i - run, run);
            buf_puts(b, "]]]]><![CDATA[>");
            run = 0;
            i += 3;
            continue;
        }
        bool forbidden = (p[i] < 0x20 && p[i] != '\t' && p[i] != '\n' && p[i] != '\r') ||
                         (p[i] == 0xef && p[i + 1] == 0xbf && (p[i + 2] == 0xbe || p[i + 2] == 0xbf));
        if (forbidden) {
            buf_append(b, (const char *)p + i - run, run);
            run = 0;
            i += p[i] == 0xef ? 3 : 1;
            continue;
        }
        run++;
        i++;
    }
    buf_append(b, (const char *)p + strlen(s) - run, run);
    buf_puts(b, "]]>");
}

static void append_field(struct buf *b, const char *name, const char *value)
{
    buf_puts(b, "<");
    buf_puts(b, name);
    buf_puts(b, ">");
    append_cdata(b, value);
    buf_puts(b, "</");
    buf_puts(b, name);
    buf_puts(b, ">");
}

static bool str_utf8_ok(const char *s)
{
    return s && utf8_valid(s, strlen(s));
}

/* True if something survives append_cdata's filtering (U+FFFE/U+FFFF
 * ignored: a text made only of those is not worth a reply either way). */
static bool has_xml_char(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p >= 0x20 || *p == '\t' || *p == '\n' || *p == '\r')
            return true;
    }
    return false;
}

char *wechat_xml_text_reply(const char *to_user, const char *from_user,
                            int64_t create_time, const char *content, size_t *out_len)
{
    char num[24];
    struct buf b = { 0 };

    if (!str_utf8_ok(to_user) || !str_utf8_ok(from_user) || !str_utf8_ok(content) ||
        !has_xml_char(content) || create_time < 0)
        return NULL;
    snprintf(num, sizeof(num), "%" PRId64, create_time);
    buf_puts(&b, "<xml>");
    append_field(&b, "ToUserName", to_user);
    append_field(&b, "FromUserName", from_user);
    buf_puts(&b, "<CreateTime>");
    buf_puts(&b, num);
    buf_puts(&b, "</CreateTime>");
    append_field(&b, "MsgType", "text");
    append_field(&b, "Content", content);
    buf_puts(&b, "</xml>");
    return buf_take(&b, out_len);
}

char *wechat_xml_envelope(const char *encrypt, const char *msg_signature,
                          const char *timestamp, const char *nonce, size_t *out_len)
{
    struct buf b = { 0 };

    if (!str_utf8_ok(encrypt) || !str_utf8_ok(msg_signature) || !str_utf8_ok(nonce) ||
        !timestamp || !*timestamp)
        return NULL;
    for (const char *t = timestamp; *t; t++) {
        if (*t < '0' || *t > '9')
            return NULL;
    }
    buf_puts(&b, "<xml>");
    append_field(&b, "Encrypt", encrypt);
    append_field(&b, "MsgSignature", msg_signature);
    buf_puts(&b, "<TimeStamp>");
    buf_puts(&b, timestamp);
    buf_puts(&b, "</TimeStamp>");
    append_field(&b, "Nonce", nonce);
    buf_puts(&b, "</xml>");
    return buf_take(&b, out_len);
}
