/* dns_parse.h - parser for DNS response messages (RFC 1035 4.1) as a
 * resolver library hands them over: header, question, and the answer records
 * of the asked type, following a CNAME chain inside the answer section.
 *
 * Pure: bytes in, structure out, no I/O, no globals. Every length is checked
 * against the message, compression pointers must point backwards (so they
 * cannot loop) and are counted, the CNAME chain and the number of records kept
 * are bounded. The authority and additional sections are not read.
 *
 * Names are returned as text: labels joined by '.', lowercase as received,
 * without the trailing dot; the root is ".". Bytes that are not printable
 * ASCII are written as \DDD (decimal), and '.' or '\' inside a label as "\."
 * and "\\", so a name never reads as something it is not. */
#ifndef POSTANE_DNS_PARSE_H
#define POSTANE_DNS_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Record types and classes used by postane. */
#define DNS_TYPE_A 1
#define DNS_TYPE_CNAME 5
#define DNS_TYPE_MX 15
#define DNS_TYPE_TXT 16
#define DNS_TYPE_AAAA 28
#define DNS_CLASS_IN 1

/* Response codes (RFC 1035 4.1.1). */
#define DNS_RCODE_NOERROR 0
#define DNS_RCODE_FORMERR 1
#define DNS_RCODE_SERVFAIL 2
#define DNS_RCODE_NXDOMAIN 3
#define DNS_RCODE_NOTIMP 4
#define DNS_RCODE_REFUSED 5

/* A name in text form: at most 255 wire octets, each label byte rendered as
 * at most 4 characters, plus the terminator. */
#define DNS_NAME_TEXT_MAX 1024
/* At most this many CNAME records are followed from the question name. */
#define DNS_CNAME_MAX 8
/* At most this many records of the asked type are kept (the rest ignored). */
#define DNS_ANSWER_MAX 64

struct dns_mx {
	unsigned pref;
	char host[DNS_NAME_TEXT_MAX]; /* "." for the root (null MX) */
};

struct dns_addr {
	int family;	  /* AF_INET or AF_INET6 */
	uint8_t addr[16]; /* 4 or 16 bytes, network order */
};

struct dns_txt {
	char *data; /* the record's character-strings concatenated, NUL-terminated */
	size_t len; /* bytes in data (data may itself contain NUL bytes) */
};

struct dns_answer {
	unsigned id;	    /* message ID */
	unsigned rcode;	    /* DNS_RCODE_* (4 bits; extended codes are not read) */
	bool truncated;	    /* TC: the answer section may be incomplete */
	bool authoritative; /* AA */
	unsigned qtype;	    /* the question's type and name */
	char qname[DNS_NAME_TEXT_MAX];
	/* The name the records belong to: qname, or the end of the CNAME chain. */
	char name[DNS_NAME_TEXT_MAX];
	unsigned ncname; /* CNAME records followed from qname to name */
	/* The records of qtype owned by `name`, in message order; only the array
	 * matching qtype is filled. */
	struct dns_mx *mx;
	size_t nmx;
	bool null_mx;	       /* RFC 7505: exactly one MX, preference 0, exchange "." */
	struct dns_addr *addr; /* A or AAAA */
	size_t naddr;
	struct dns_txt *txt;
	size_t ntxt;
};

/* Parse the `len` bytes at `msg`, a response to a query for the first
 * question's name and type (only class IN records are used). Records of the
 * question's type are collected for the question name or, through CNAME
 * records in the answer section, for the name it is an alias of. A message
 * cut short inside the answer section is accepted only when TC is set (the
 * records before the cut are kept).
 *
 * Returns 0 and fills *answer_r (release with dns_answer_free()), or -1 with
 * a static English reason in *error_r (*answer_r then holds nothing to free).
 * The rcode is reported, not judged: an NXDOMAIN or SERVFAIL answer parses
 * successfully. */
int dns_parse_answer(const uint8_t *msg, size_t len, struct dns_answer *answer_r,
		     const char **error_r);

/* Release what dns_parse_answer() allocated. Accepts a zeroed struct. */
void dns_answer_free(struct dns_answer *answer);

/* Short English text for an rcode ("server failure", "no such domain"). */
const char *dns_rcode_text(unsigned rcode);

#endif
