/*
 * dmarc — DMARC (RFC 7489) without DNS: the policy record parser, the
 * organisational domain from the Public Suffix List (loaded once by the
 * master before the chroot, inherited by the engine), identifier
 * alignment (relaxed / strict) and the evaluation of one message from
 * its From domain, its DKIM and SPF results and the record found. The
 * engine's hook (src/smtp/dkimverify.c) looks the records up over the
 * asynchronous resolver and writes the dmarc= part of the
 * Authentication-Results header; docs/sending.md.
 */
#ifndef MW_DMARC_H
#define MW_DMARC_H
#include <stddef.h>

enum dmarc_policy { DMARC_P_NONE, DMARC_P_QUARANTINE, DMARC_P_REJECT };
enum dmarc_res { DMARC_NONE, DMARC_PASS, DMARC_FAIL, DMARC_TEMPERROR, DMARC_PERMERROR };

/* A parsed "v=DMARC1; p=...; ..." record (tags we act on). */
struct dmarc_record {
	enum dmarc_policy p;
	enum dmarc_policy sp;	/* = p when absent */
	int has_sp;
	int adkim_strict, aspf_strict;
	int pct;		/* 0..100, default 100 */
};

/* One identifier the message authenticated (DKIM d= that passed, or the
 * SPF-checked domain when SPF passed). */
struct dmarc_input {
	const char *from_domain;	/* RFC5322.From domain */
	const char *const *dkim_pass;	/* d= of passing signatures */
	size_t ndkim;
	const char *spf_pass;		/* SPF domain if SPF passed, else NULL */
};

struct dmarc_outcome {
	enum dmarc_res result;
	enum dmarc_policy policy;	/* the p= or sp= that applies */
	enum dmarc_policy disposition;	/* after pct=; NONE on pass */
	int dkim_aligned, spf_aligned;
};

/* Load the Public Suffix List (public_suffix_list.dat) once; replaces a
 * previous one. 0, or -1 with err. */
int dmarc_psl_load(const char *path, char *err, size_t errlen);
/* check-config: the list at path reads whole and has rules (nothing
 * kept), as the start will need. 0 or -1. */
int dmarc_psl_check(const char *path, char *err, size_t errlen);
/* Rules loaded (0: none, and dmarc_org_domain() fails: relaxed alignment
 * is then only equality, never "the last two labels"). */
size_t dmarc_psl_count(void);
/* The organisational domain of name (lower case, no final dot) into out.
 * 0, or -1 when name is empty, too long or itself a public suffix. */
int dmarc_org_domain(const char *name, char *out, size_t len);
/* Whether a and b are aligned: strict = equal (case-insensitive);
 * relaxed = same organisational domain. */
int dmarc_aligned(const char *a, const char *b, int strict);
/* Parse one TXT record. 1 a DMARC record (rec filled), 0 not one
 * ("v=DMARC1" not first), -1 a DMARC record with a bad p=. */
int dmarc_parse(const char *txt, struct dmarc_record *rec);
/* Choose the DMARC record among a name's TXT answers: 1 one found, 0 none
 * (none, or more than one: RFC 7489 6.6.3). */
int dmarc_pick(char *const *items, size_t n, struct dmarc_record *rec);
/* Evaluate: rec found at the From domain (at_org = 0) or at its
 * organisational domain (1); roll is 0..99 for pct= sampling. */
void dmarc_evaluate(const struct dmarc_input *in, const struct dmarc_record *rec, int at_org,
    int roll, struct dmarc_outcome *out);
/* "pass", "fail", "none", "temperror", "permerror". */
const char *dmarc_result_name(enum dmarc_res r);
/* "none", "quarantine", "reject". */
const char *dmarc_policy_name(enum dmarc_policy p);
/* The domain of the From: header of a message (headers at m), lower
 * case, into out: 0, or -1 when there is none or more than one address
 * (RFC 7489 6.6.1). */
int dmarc_from_domain(const char *m, size_t len, char *out, size_t outlen);
#endif
