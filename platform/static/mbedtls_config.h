/* SPDX-License-Identifier: Apache-2.0 */
/*
 * mbedtls 3.6 configuration for the static limpet binary: a TLS 1.2/1.3
 * client for curl, plus what agent/trust/trust.c needs (SHA-256, ECDSA P-256 and
 * RSA signature checks, P-256 key generation and signing, PEM in and out).
 *
 * It is installed as the prefix's <mbedtls/mbedtls_config.h>, so mbedtls,
 * curl and limpet all compile against the same structures.  Anything not
 * listed here costs size and attack surface for no use: add a module only
 * with the reason beside it.
 */
#ifndef LIMPET_MBEDTLS_CONFIG_H
#define LIMPET_MBEDTLS_CONFIG_H

/* ---------------------------------------------------------------- system */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE			/* certificate validity */
#define MBEDTLS_FS_IO				/* curl reads CA, cert and key files by name */
#define MBEDTLS_DEPRECATED_REMOVED

/* Entropy comes from getrandom(2) through the platform source; no NV seed. */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C

/* The strings name the failure in limpet's and curl's messages. */
#define MBEDTLS_ERROR_C
#define MBEDTLS_VERSION_C			/* curl_version() */

/* ---------------------------------------------------------------- hashes */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA384_C
#define MBEDTLS_SHA512_C
/* The Pi 5 has the Armv8 crypto extensions, the Pi 4 does not: decide at run time. */
#define MBEDTLS_SHA256_USE_ARMV8_A_CRYPTO_IF_PRESENT

/* ---------------------------------------------------------------- ciphers */
#define MBEDTLS_CIPHER_C
#define MBEDTLS_AES_C
#define MBEDTLS_AES_FEWER_TABLES		/* 2 KiB of tables instead of 8 */
#define MBEDTLS_AESNI_C				/* both probe the CPU at run time */
#define MBEDTLS_AESCE_C
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C

/* ---------------------------------------------------------------- public keys */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_OID_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PEM_WRITE_C			/* limpet keygen */
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C			/* limpet keygen; curl's public key pinning */
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_SECP384R1_ENABLED	/* servers' P-384 certificates and key shares */
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDH_C
#define MBEDTLS_RSA_C				/* most public servers still have RSA certificates */
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21			/* TLS 1.3 signs with RSA-PSS */
#define MBEDTLS_HKDF_C				/* TLS 1.3 key schedule */

/* TLS 1.3 runs its crypto through PSA; the TLS code calls psa_crypto_init(). */
#define MBEDTLS_PSA_CRYPTO_C
#define MBEDTLS_PSA_KEY_STORE_DYNAMIC

/* ---------------------------------------------------------------- X.509 */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C		/* with IP address SANs, checked since 3.6 */
/* Also what makes the TLS 1.3 client offer rsa_pss_rsae_*: without it a
 * server with an RSA certificate has no signature algorithm to answer with. */
#define MBEDTLS_X509_RSASSA_PSS_SUPPORT

/* ---------------------------------------------------------------- TLS client */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE	/* middleboxes drop TLS 1.3 without it */
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE	/* required by TLS 1.3 */
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_ALPN

#endif /* LIMPET_MBEDTLS_CONFIG_H */
