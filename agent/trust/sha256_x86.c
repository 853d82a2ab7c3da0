// SPDX-License-Identifier: Apache-2.0
/*
 * SHA-256 blocks on the x86 SHA extensions.  mbedtls 3.6 uses the Arm
 * crypto extensions but has no x86 path, and its portable code hashes about
 * 250 MB/s here: an import hashes the archive twice and every layer byte
 * twice more, so hashing was the slowest thread of it.  These instructions
 * do 1.5-2 GB/s.  Elsewhere (or on a CPU without them) trust.c keeps
 * mbedtls.
 */
#include "agent/trust/sha256_hw.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))

#include <cpuid.h>
#include <immintrin.h>

#define HW_TARGET __attribute__((target("sha,sse4.1,ssse3")))

static const uint32_t k256[64] __attribute__((aligned(16))) = {
	0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4,
	0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe,
	0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f,
	0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7,
	0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc,
	0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b,
	0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116,
	0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
	0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
	0xc67178f2,
};

bool lp_sha256_hw_available(void)
{
	unsigned int a, b, c, d;

	return __get_cpuid(1, &a, &b, &c, &d) && (c & bit_SSSE3) && (c & bit_SSE4_1) &&
	       __get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_SHA);
}

/*
 * Four rounds: wk holds the next four schedule words plus constants; each
 * sha256rnds2 does two, leaving the previous ABEF as the new CDGH.
 */
#define ROUNDS4(i, m)                                                                   \
	do {                                                                            \
		wk = _mm_add_epi32(m, _mm_load_si128((const __m128i *)&k256[4 * (i)])); \
		cdgh = _mm_sha256rnds2_epu32(cdgh, abef, wk);                           \
		abef = _mm_sha256rnds2_epu32(abef, cdgh, _mm_shuffle_epi32(wk, 0x0e));  \
	} while (0)

/* The schedule's next four words from the last sixteen (m0 oldest), into m0. */
#define SCHEDULE(m0, m1, m2, m3)    \
	(m0 = _mm_sha256msg2_epu32( \
		 _mm_add_epi32(_mm_sha256msg1_epu32(m0, m1), _mm_alignr_epi8(m3, m2, 4)), m3))

HW_TARGET void lp_sha256_hw_blocks(uint32_t state[8], const unsigned char *p, size_t n)
{
	const __m128i bswap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
	__m128i abef, cdgh, m0, m1, m2, m3, wk, t, abef0, cdgh0;
	int i;

	/* The instructions keep a,b,e,f in one register and c,d,g,h in the other. */
	t = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[0]), 0xb1);
	cdgh = _mm_shuffle_epi32(_mm_loadu_si128((const __m128i *)&state[4]), 0x1b);
	abef = _mm_alignr_epi8(t, cdgh, 8);
	cdgh = _mm_blend_epi16(cdgh, t, 0xf0);

	for (; n; n--, p += 64) {
		abef0 = abef;
		cdgh0 = cdgh;
		m0 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 0)), bswap);
		m1 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 16)), bswap);
		m2 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 32)), bswap);
		m3 = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(p + 48)), bswap);
		ROUNDS4(0, m0);
		ROUNDS4(1, m1);
		ROUNDS4(2, m2);
		ROUNDS4(3, m3);
		for (i = 4; i < 16; i += 4) {
			ROUNDS4(i, SCHEDULE(m0, m1, m2, m3));
			ROUNDS4(i + 1, SCHEDULE(m1, m2, m3, m0));
			ROUNDS4(i + 2, SCHEDULE(m2, m3, m0, m1));
			ROUNDS4(i + 3, SCHEDULE(m3, m0, m1, m2));
		}
		abef = _mm_add_epi32(abef, abef0);
		cdgh = _mm_add_epi32(cdgh, cdgh0);
	}

	t = _mm_shuffle_epi32(abef, 0x1b);
	cdgh = _mm_shuffle_epi32(cdgh, 0xb1);
	_mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(t, cdgh, 0xf0));
	_mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(cdgh, t, 8));
}

#else

bool lp_sha256_hw_available(void)
{
	return false;
}

void lp_sha256_hw_blocks(uint32_t state[8], const unsigned char *p, size_t n)
{
	(void)state;
	(void)p;
	(void)n;
}

#endif
