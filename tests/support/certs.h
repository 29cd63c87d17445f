/*
 * certs.h - TLS test certificates, made at test time by
 * tests/support/make-certs.sh (see there for the list) in a harness's
 * directory. No private key is ever committed.
 */
#ifndef MP_TEST_CERTS_H
#define MP_TEST_CERTS_H

struct harness;

/* Make the certificates in the harness directory; asserts success.
 * Returns the directory (as harness_dir). */
const char *mpt_make_certs(struct harness *h);

#endif
