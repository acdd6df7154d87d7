/* smtp_data.c - state machine for DATA dot-unstuffing, the end-of-data
 * marker, and line-ending normalisation. See smtp_data.h for the rule. */
#include "smtp/smtp_data.h"

enum {
	ST_LINE_START, /* after CRLF (or at the start): a '.' is special */
	ST_TEXT,       /* inside a line */
	ST_CR,         /* saw CR inside a line; LF would complete CRLF */
	ST_DOT,        /* saw '.' at line start */
	ST_DOT_CR,     /* saw ".<CR>" at line start */
	ST_DONE,
};

void smtp_data_init(struct smtp_data_decoder *d, bool dot_mode)
{
	d->state = dot_mode ? ST_LINE_START : ST_TEXT;
	d->dot_mode = dot_mode;
	d->done = false;
	d->bare_lf = 0;
	d->bare_cr = 0;
}

size_t smtp_data_feed(struct smtp_data_decoder *d, const char *in, size_t len, char *out,
		      size_t *out_len)
{
	size_t o = 0, i = 0;
	int st = d->state;
	while (i < len && st != ST_DONE) {
		char c = in[i];
		switch (st) {
		case ST_DOT:
			if (c == '\r') {
				st = ST_DOT_CR;
				i++;
				continue;
			}
			if (c == '\n') {
				/* ".<LF>": the LF is bare; keep the dot. */
				out[o++] = '.';
				st = ST_TEXT;
				continue;
			}
			/* A stuffed dot: drop it and treat c as line text. */
			st = ST_TEXT;
			continue;
		case ST_DOT_CR:
			if (c == '\n') {
				st = ST_DONE;
				i++;
				continue;
			}
			/* ".<CR>x": the CR is bare. Keep the dot, write the
			 * CR as a line end, and go on with x in the text. */
			out[o++] = '.';
			out[o++] = '\r';
			out[o++] = '\n';
			d->bare_cr++;
			st = ST_TEXT;
			continue;
		case ST_CR:
			if (c == '\n') {
				out[o++] = '\r';
				out[o++] = '\n';
				st = d->dot_mode ? ST_LINE_START : ST_TEXT;
				i++;
				continue;
			}
			/* Bare CR: written as CRLF, but not a line start. */
			out[o++] = '\r';
			out[o++] = '\n';
			d->bare_cr++;
			st = ST_TEXT;
			continue;
		case ST_LINE_START:
			if (c == '.') {
				st = ST_DOT;
				i++;
				continue;
			}
			st = ST_TEXT;
			continue;
		default: /* ST_TEXT */
			if (c == '\r') {
				st = ST_CR;
			} else if (c == '\n') {
				/* Bare LF: written as CRLF, not a line start. */
				out[o++] = '\r';
				out[o++] = '\n';
				d->bare_lf++;
			} else {
				out[o++] = c;
			}
			i++;
			continue;
		}
	}
	d->state = st;
	d->done = st == ST_DONE;
	*out_len = o;
	return i;
}

void smtp_data_finish(struct smtp_data_decoder *d, char *out, size_t *out_len)
{
	size_t o = 0;
	if (d->state == ST_CR) {
		out[o++] = '\r';
		out[o++] = '\n';
		d->bare_cr++;
	}
	d->state = d->dot_mode ? ST_LINE_START : ST_TEXT;
	*out_len = o;
}
