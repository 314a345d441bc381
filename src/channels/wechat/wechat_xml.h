#ifndef MASHANG_WECHAT_XML_H
#define MASHANG_WECHAT_XML_H
/* WeChat push XML (expat): parse an inbound plaintext push, a decrypted
 * inner message or a safe-mode envelope; build passive text replies and
 * encrypted reply envelopes.  Pure functions, no I/O.
 * Facts: shared/notes/wechat.md §2, §3.5-3.6, §4.1, pitfalls 6, 7, 10-12. */
#include <stddef.h>
#include <stdint.h>

/* Inputs larger than this are refused before parsing (notes pitfall 7). */
#define WECHAT_XML_MAX_BYTES (1024 * 1024)

enum wechat_xml_err {
    WXML_OK = 0,
    WXML_ETOO_LARGE,   /* over WECHAT_XML_MAX_BYTES */
    WXML_EENCODING,    /* not valid UTF-8 */
    WXML_EDTD,         /* DOCTYPE or entity declaration: refused, never expanded */
    WXML_ESYNTAX,      /* not well-formed, truncated, or root is not <xml> */
    WXML_EDUPLICATE,   /* a known field appears twice (ambiguous: which one is signed?) */
    WXML_EARG,
    WXML_ENOMEM
};

const char *wechat_xml_strerror(int err);

/* One push.  Every field is a malloc'd NUL-terminated UTF-8 string owned
 * by the struct, or NULL when the element is absent (an empty element
 * gives ""); numbers stay strings so 64-bit ids never pass through a
 * double.  Only direct children of the root <xml> are read (nested
 * elements such as SendLocationInfo/Location_X are ignored); CDATA and
 * plain text are accepted for every field and concatenated.
 * Release with wechat_msg_clear(). */
struct wechat_msg {
    char *to_user_name;    /* gh_ id (OA) or CorpID (WeCom) */
    char *from_user_name;  /* sender OpenID / WeCom UserID */
    char *create_time;     /* decimal seconds as sent */
    int64_t create_time_s; /* parsed CreateTime, 0 if absent or not decimal */
    char *msg_type;        /* text, image, voice, location, link, event, ... */
    char *content;
    char *msg_id;          /* MsgId, or MsgID of TEMPLATESENDJOBFINISH */
    char *event;           /* lower-cased: "subscribe", "scan", "unsubscribe", ... */
    char *event_key;       /* "qrscene_D0412" on subscribe, "D0412" on SCAN */
    char *ticket;
    char *status;          /* TEMPLATESENDJOBFINISH */
    char *location_x;      /* latitude */
    char *location_y;      /* longitude */
    char *scale;
    char *label;
    char *latitude;        /* LOCATION event */
    char *longitude;
    char *precision;
    char *recognition;     /* voice speech-to-text */
    char *media_id;
    char *format;
    char *pic_url;
    char *title;
    char *description;
    char *url;
    char *agent_id;        /* WeCom */
    char *encrypt;         /* safe/compatible-mode envelope */
};

/* Parses `len` bytes of `xml` into `out` (which need not be initialised;
 * on error it is left cleared).  DOCTYPE/ENTITY declarations, external
 * entities, invalid UTF-8, an input over WECHAT_XML_MAX_BYTES, a root
 * other than <xml>, and truncated or ill-formed XML are all errors.
 * Returns WXML_OK or an enum wechat_xml_err. */
int wechat_xml_parse(const char *xml, size_t len, struct wechat_msg *out);
void wechat_msg_clear(struct wechat_msg *m);

/* Passive text reply (notes §4.1).  Pass the incoming FromUserName as
 * `to_user` and the incoming ToUserName as `from_user`; `create_time` is
 * in seconds.  Content goes in CDATA with "]]>" split safely; C0 control
 * characters that XML 1.0 forbids (all but TAB, LF, CR) are dropped.
 * Returns a malloc'd NUL-terminated string (caller frees), or NULL if an
 * argument is NULL, `content` is empty (WeChat shows an error banner for
 * an empty Content: send an empty body instead) or any string is not
 * valid UTF-8 (or nothing is left after dropping forbidden characters).
 * *out_len (if not NULL) receives the length.  WeChat truncates or
 * refuses passive texts over about 2048 bytes: the caller trims. */
char *wechat_xml_text_reply(const char *to_user, const char *from_user,
                            int64_t create_time, const char *content, size_t *out_len);

/* Encrypted reply envelope (notes §3.6) from the values produced by
 * wechat_envelope_build().  `timestamp` must be decimal digits.  Returns a
 * malloc'd string (caller frees), or NULL on bad arguments. */
char *wechat_xml_envelope(const char *encrypt, const char *msg_signature,
                          const char *timestamp, const char *nonce, size_t *out_len);

#endif
