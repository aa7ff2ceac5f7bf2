/*
 * `bcftools query -f` formats for site-level fields. Records are parsed by
 * htslib's own vcf_parse with the same lazy-parsing depth bcftools uses, and
 * printed with the same htslib routines (kputd, bcf_fmt_array, vcf_format),
 * so the output is byte-identical to bcftools 1.16 on the same text.
 */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include <htslib/kstring.h>
#include <htslib/vcf.h>

#include "vcf/vcf_internal.h"

enum item_type {
	IT_TEXT,
	IT_CHROM,
	IT_POS,
	IT_ID,
	IT_REF,
	IT_ALT,
	IT_QUAL,
	IT_FILTER,
	IT_INFO_ALL,
	IT_INFO,
	IT_LINE,
	IT_TAG
};

struct item {
	enum item_type type;
	char *text;    /* literal text, or the INFO tag name */
	size_t len;    /* of text */
	int id;        /* header id of the INFO tag */
	int subscript; /* {N}, -1 if none */
};

struct vcf_fmt {
	struct item *items;
	size_t n;
	int unpack; /* bcftools' max_unpack for this format */
	bcf_hdr_t *hdr;
	bcf1_t *rec;
	kstring_t out;
};

static int add_item(struct vcf_fmt *f, enum item_type t, const char *text, size_t len)
{
	struct item *it = realloc(f->items, (f->n + 1) * sizeof *it);
	if (!it)
		return ward_error(WARD_E_NOMEM, "out of memory");
	f->items = it;
	it = &f->items[f->n];
	memset(it, 0, sizeof *it);
	it->type = t;
	it->subscript = -1;
	it->id = -1;
	if (text) {
		it->text = malloc(len + 1);
		if (!it->text)
			return ward_error(WARD_E_NOMEM, "out of memory");
		memcpy(it->text, text, len);
		it->text[len] = '\0';
		it->len = len;
	}
	f->n++;
	return 0;
}

static int is_tag_char(int c)
{
	return isalnum(c) || c == '_' || c == '.';
}

/* {N} after ALT or an INFO tag, as bcftools' parse_subscript. */
static int parse_subscript(const char **pp)
{
	const char *q = *pp;
	if (*q != '{')
		return -1;
	q++;
	while (*q && *q != '}' && isdigit((unsigned char)*q))
		q++;
	if (*q != '}')
		return -1;
	int idx = atoi(*pp + 1);
	*pp = q + 1;
	return idx;
}

static const struct {
	const char *name;
	enum item_type type;
	int unpack;
} fields[] = {
    {"CHROM", IT_CHROM, BCF_UN_STR},   {"POS", IT_POS, BCF_UN_STR},   {"ID", IT_ID, BCF_UN_STR},
    {"REF", IT_REF, BCF_UN_STR},       {"ALT", IT_ALT, BCF_UN_STR},   {"QUAL", IT_QUAL, BCF_UN_STR},
    {"FILTER", IT_FILTER, BCF_UN_FLT}, {"LINE", IT_LINE, BCF_UN_ALL},
};

static int bad_format(const char *format)
{
	return ward_error(WARD_E_INVAL, "could not parse the format string \"%s\"", format);
}

/* One %TAG at *pp (just after the '%'). */
static int parse_tag(struct vcf_fmt *f, const char *format, const char **pp)
{
	const char *p = *pp, *q = p;
	while (*q && is_tag_char((unsigned char)*q))
		q++;
	if (q == p)
		return bad_format(format);
	size_t n = (size_t)(q - p);
	int rc;
	if (n == 4 && memcmp(p, "INFO", 4) == 0) {
		f->unpack |= BCF_UN_INFO;
		if (*q != '/') {
			*pp = q;
			return add_item(f, IT_INFO_ALL, NULL, 0);
		}
		p = ++q;
		while (*q && is_tag_char((unsigned char)*q))
			q++;
		if (q == p)
			return bad_format(format);
		if ((rc = add_item(f, IT_INFO, p, (size_t)(q - p))) < 0)
			return rc;
		f->items[f->n - 1].subscript = parse_subscript(&q);
		*pp = q;
		return 0;
	}
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		if (strlen(fields[i].name) == n && memcmp(p, fields[i].name, n) == 0) {
			f->unpack |= fields[i].unpack;
			if ((rc = add_item(f, fields[i].type, NULL, 0)) < 0)
				return rc;
			if (fields[i].type == IT_ALT)
				f->items[f->n - 1].subscript = parse_subscript(&q);
			*pp = q;
			return 0;
		}
	}
	/* Any other name must be an INFO tag of the header (checked later), as in bcftools. */
	f->unpack |= BCF_UN_INFO;
	if ((rc = add_item(f, IT_TAG, p, n)) < 0)
		return rc;
	*pp = q;
	return 0;
}

/* Literal text up to the next %, [ or ], with bcftools' escapes (\n, \t, \c = c). */
static int parse_text(struct vcf_fmt *f, const char *format, const char **pp)
{
	const char *q = *pp;
	kstring_t s = KS_INITIALIZE;
	while (*q && *q != '%' && *q != '[' && *q != ']') {
		if (*q == '\\') {
			q++;
			if (!*q) {
				free(s.s);
				return bad_format(format);
			}
			kputc(*q == 'n' ? '\n' : *q == 't' ? '\t' : *q, &s);
		} else {
			kputc(*q, &s);
		}
		q++;
	}
	int rc = add_item(f, IT_TEXT, s.s ? s.s : "", s.l);
	free(s.s);
	*pp = q;
	return rc;
}

int vcf_fmt_compile(const char *format, struct vcf_fmt **out)
{
	struct vcf_fmt *f = calloc(1, sizeof *f);
	if (!f)
		return ward_error(WARD_E_NOMEM, "out of memory");
	f->unpack = BCF_UN_STR;
	const char *p = format;
	int rc = 0;
	if (!*p)
		rc = ward_error(WARD_E_INVAL, "the format string is empty");
	while (rc == 0 && *p) {
		if (*p == '%') {
			p++;
			rc = parse_tag(f, format, &p);
		} else if (*p == '[' || *p == ']') {
			rc = ward_error(WARD_E_INVAL,
			                "per-sample fields ([...]) are not supported: \"%s\"",
			                format);
		} else {
			rc = parse_text(f, format, &p);
		}
	}
	if (rc < 0) {
		vcf_fmt_free(f);
		return rc;
	}
	*out = f;
	return 0;
}

int vcf_fmt_is_id_only(const struct vcf_fmt *f, const char **pre, size_t *npre, const char **post,
                       size_t *npost)
{
	size_t i = 0;
	*npre = *npost = 0;
	*pre = *post = "";
	if (i < f->n && f->items[i].type == IT_TEXT) {
		*pre = f->items[i].text;
		*npre = f->items[i].len;
		i++;
	}
	if (i >= f->n || f->items[i].type != IT_ID)
		return 0;
	i++;
	if (i < f->n && f->items[i].type == IT_TEXT) {
		*post = f->items[i].text;
		*npost = f->items[i].len;
		i++;
	}
	return i == f->n;
}

int vcf_fmt_set_header(struct vcf_fmt *f, const char *text, size_t len)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return ward_error(WARD_E_NOMEM, "out of memory");
	memcpy(copy, text, len);
	copy[len] = '\0';
	if (f->rec)
		bcf_destroy(f->rec);
	if (f->hdr)
		bcf_hdr_destroy(f->hdr);
	f->hdr = bcf_hdr_init("r");
	f->rec = bcf_init();
	int rc = 0;
	if (!f->hdr || !f->rec)
		rc = ward_error(WARD_E_NOMEM, "out of memory");
	else if (bcf_hdr_parse(f->hdr, copy) < 0)
		rc = ward_error(WARD_E_FORMAT, "htslib could not parse the VCF header");
	free(copy);
	for (size_t i = 0; rc == 0 && i < f->n; i++) {
		struct item *it = &f->items[i];
		if (it->type != IT_INFO && it->type != IT_TAG)
			continue;
		it->id = bcf_hdr_id2int(f->hdr, BCF_DT_ID, it->text);
		if (it->id < 0 || !bcf_hdr_idinfo_exists(f->hdr, BCF_HL_INFO, it->id))
			rc = ward_error(WARD_E_FORMAT,
			                "no such tag defined in the VCF header: INFO/%s", it->text);
		it->type = IT_INFO;
	}
	return rc;
}

static void put_alt(const bcf1_t *v, const struct item *it, kstring_t *s)
{
	if (v->n_allele == 1) {
		kputc('.', s);
	} else if (it->subscript >= 0) {
		if (v->n_allele > it->subscript + 1)
			kputs(v->d.allele[it->subscript + 1], s);
		else
			kputc('.', s);
	} else {
		for (int i = 1; i < v->n_allele; i++) {
			if (i > 1)
				kputc(',', s);
			kputs(v->d.allele[i], s);
		}
	}
}

static void put_filter(const bcf_hdr_t *h, const bcf1_t *v, kstring_t *s)
{
	if (!v->d.n_flt) {
		kputc('.', s);
		return;
	}
	for (int i = 0; i < v->d.n_flt; i++) {
		if (i)
			kputc(';', s);
		kputs(h->id[BCF_DT_ID][v->d.flt[i]].key, s);
	}
}

/* One value of a single-valued INFO field, as bcftools prints it. */
static void put_info1(const bcf_info_t *in, kstring_t *s)
{
	switch (in->type) {
	case BCF_BT_INT8:
		if (in->v1.i == bcf_int8_missing)
			kputc('.', s);
		else
			kputw(in->v1.i, s);
		break;
	case BCF_BT_INT16:
		if (in->v1.i == bcf_int16_missing)
			kputc('.', s);
		else
			kputw(in->v1.i, s);
		break;
	case BCF_BT_INT32:
		if (in->v1.i == bcf_int32_missing)
			kputc('.', s);
		else
			kputw(in->v1.i, s);
		break;
	case BCF_BT_FLOAT:
		if (bcf_float_is_missing(in->v1.f))
			kputc('.', s);
		else
			kputd(in->v1.f, s);
		break;
	case BCF_BT_CHAR:
		kputc(in->v1.i, s);
		break;
	default:
		kputc('.', s);
		break;
	}
}

static void put_info_all(const bcf_hdr_t *h, const bcf1_t *v, kstring_t *s)
{
	int first = 1;
	for (int i = 0; i < v->n_info; i++) {
		const bcf_info_t *in = &v->d.info[i];
		if (!in->vptr)
			continue;
		if (!first)
			kputc(';', s);
		first = 0;
		if (in->key >= h->n[BCF_DT_ID])
			continue;
		kputs(h->id[BCF_DT_ID][in->key].key, s);
		if (in->len <= 0)
			continue;
		kputc('=', s);
		if (in->len == 1)
			put_info1(in, s);
		else
			bcf_fmt_array(s, in->len, in->type, in->vptr);
	}
	if (first)
		kputc('.', s);
}

/* The {N}-th element of a vector INFO value (bcftools' process_info subscript branch). */
static void put_info_sub(const bcf_info_t *in, int sub, kstring_t *s)
{
	if (in->len <= sub) {
		kputc('.', s);
		return;
	}
	const uint8_t *p = in->vptr;
	switch (in->type) {
	case BCF_BT_INT8: {
		int8_t x = (int8_t)p[sub];
		if (x == bcf_int8_missing || x == bcf_int8_vector_end)
			kputc('.', s);
		else
			kputw(x, s);
		break;
	}
	case BCF_BT_INT16: {
		int16_t x;
		memcpy(&x, p + 2 * sub, 2);
		if (x == bcf_int16_missing || x == bcf_int16_vector_end)
			kputc('.', s);
		else
			kputw(x, s);
		break;
	}
	case BCF_BT_INT32: {
		int32_t x;
		memcpy(&x, p + 4 * sub, 4);
		if (x == bcf_int32_missing || x == bcf_int32_vector_end)
			kputc('.', s);
		else
			kputw(x, s);
		break;
	}
	case BCF_BT_FLOAT: {
		float x;
		memcpy(&x, p + 4 * sub, 4);
		if (bcf_float_is_missing(x) || bcf_float_is_vector_end(x))
			kputc('.', s);
		else
			kputd(x, s);
		break;
	}
	case BCF_BT_CHAR: {
		/* The sub-th comma-separated field of the string (bcftools' _copy_field). */
		const char *src = (const char *)p;
		uint32_t len = in->vptr_len;
		uint32_t b = 0;
		int k = 0;
		while (b < len && src[b] && k < sub) {
			if (src[b] == ',')
				k++;
			b++;
		}
		if (b == len) {
			kputc('.', s);
			break;
		}
		uint32_t e = b;
		while (e < len && src[e] && src[e] != ',')
			e++;
		if (e > b)
			kputsn(src + b, e - b, s);
		else
			kputc('.', s);
		break;
	}
	default:
		kputc('.', s);
	}
}

static void put_info(const bcf1_t *v, const struct item *it, kstring_t *s)
{
	int i;
	for (i = 0; i < v->n_info; i++)
		if (v->d.info[i].key == it->id)
			break;
	if (i == v->n_info) {
		kputc('.', s);
		return;
	}
	const bcf_info_t *in = &v->d.info[i];
	if (in->len <= 0)
		kputc('1', s); /* a Flag that is present */
	else if (in->len == 1)
		put_info1(in, s);
	else if (it->subscript >= 0)
		put_info_sub(in, it->subscript, s);
	else
		bcf_fmt_array(s, in->len, in->type, in->vptr);
}

static void put_item(struct vcf_fmt *f, const struct item *it, kstring_t *s)
{
	const bcf1_t *v = f->rec;
	switch (it->type) {
	case IT_TEXT:
		kputsn(it->text, it->len, s);
		break;
	case IT_CHROM:
		kputs(f->hdr->id[BCF_DT_CTG][v->rid].key, s);
		break;
	case IT_POS:
		kputw((int)(v->pos + 1), s);
		break;
	case IT_ID:
		kputs(v->d.id, s);
		break;
	case IT_REF:
		kputs(v->d.allele[0], s);
		break;
	case IT_ALT:
		put_alt(v, it, s);
		break;
	case IT_QUAL:
		if (bcf_float_is_missing(v->qual))
			kputc('.', s);
		else
			kputd(v->qual, s);
		break;
	case IT_FILTER:
		put_filter(f->hdr, v, s);
		break;
	case IT_INFO_ALL:
		put_info_all(f->hdr, v, s);
		break;
	case IT_INFO:
	case IT_TAG:
		put_info(v, it, s);
		break;
	case IT_LINE:
		vcf_format(f->hdr, v, s);
		break;
	}
}

int vcf_fmt_line(struct vcf_fmt *f, char *line, size_t len, uint64_t lineno, const char **res,
                 size_t *rlen)
{
	kstring_t ks = {len, len + 1, line};
	f->rec->max_unpack = f->unpack;
	/* bcftools query skips a record htslib cannot parse (after htslib's message) and goes on.
	 */
	(void)lineno;
	if (vcf_parse(&ks, f->hdr, f->rec) < 0 || bcf_unpack(f->rec, f->unpack) < 0)
		return 1;
	f->out.l = 0;
	for (size_t i = 0; i < f->n; i++)
		put_item(f, &f->items[i], &f->out);
	*res = f->out.s ? f->out.s : "";
	*rlen = f->out.l;
	return 0;
}

void vcf_fmt_free(struct vcf_fmt *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < f->n; i++)
		free(f->items[i].text);
	free(f->items);
	if (f->rec)
		bcf_destroy(f->rec);
	if (f->hdr)
		bcf_hdr_destroy(f->hdr);
	free(f->out.s);
	free(f);
}
