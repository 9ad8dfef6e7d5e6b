/* sqz int8 kernels: TFLite's reference integer arithmetic, bit for bit, in C99 without malloc.
 * Cores with the DSP extension (__ARM_FEATURE_DSP: Cortex-M4/M7/M33/M55) take SMLAD/SXTB16 dot products;
 * every other core and the host take the plain C path (define SQZ_NO_DSP to force it). SQZ_REFERENCE_LOOPS
 * selects TFLite's reference loop order instead (one output value at a time, the input offset added per tap): slower,
 * for comparison only. */
#include <stdint.h>
#include <string.h>

#if defined(__ARM_FEATURE_DSP) && !defined(SQZ_NO_DSP)
#include <arm_acle.h>
#define SQZ_DSP 1
#else
#define SQZ_DSP 0
#endif

/* A model uses only some of these kernels; the others must not warn. */
#if defined(__GNUC__)
#define SQZ_KERNEL static __attribute__((unused))
#define SQZ_INLINE static inline __attribute__((always_inline))
#define SQZ_ALIGN8 __attribute__((aligned(8)))
#else
#define SQZ_KERNEL static
#define SQZ_INLINE static inline
#define SQZ_ALIGN8
#endif

typedef struct {
    int ih, iw, ic, oh, ow, oc, kh, kw, sh, sw, ph, pw;
    int32_t in_off, out_zp, act_min, act_max;
    int out_stride; /* channels between two output pixels: oc, or the whole concatenation's */
    int kp;         /* values per filter: kh·kw·ic, rounded up to 4 where `gather` is set */
    int gather;     /* 1: gather every pixel's taps (rows too short to read in place) */
    int rq;         /* DSP requantisation, checked at export: 0 exact general form; 1 every shift < 0 and every
                     * accumulator within ±2^30, output range [-128, 127]; 2 the same with a narrower range */
    const int8_t *w;         /* filters in pairs (2c, 2c+1), 4 values of one then 4 of the other; each padded with
                              * zeros to kp, an odd last filter paired with zeros */
    const int32_t *bias_in;  /* the model's bias + in_off · sum(w) */
    const int32_t *mult;
    const int8_t *shift;
    int8_t *scratch;         /* 2·kp bytes for gathered taps */
    int32_t *wide;           /* DSP builds: kp words, two pixels' taps as int16 pairs, interleaved */
} sqz_conv_t;

/* MultiplyByQuantizedMultiplier: SaturatingRoundingDoublingHighMul, then RoundingDivideByPOT. The multiplier is
 * never INT32_MIN (QuantizeMultiplier of a positive scale lies in [2^30, 2^31)), so the high multiply cannot
 * saturate; (a·m + nudge) / 2^31 truncated, with nudge 2^30 or 1 − 2^30 by sign, equals
 * floor((a·m + 2^30) / 2^31). */
static inline int32_t sqz_requant(int32_t x, int32_t mult, int shift)
{
    int32_t a = shift > 0 ? (int32_t)((uint32_t)x << shift) : x;
    int32_t high = (int32_t)(((int64_t)a * mult + ((int64_t)1 << 30)) >> 31);
    int right = shift > 0 ? 0 : -shift;
    int32_t mask = (int32_t)(((uint32_t)1 << right) - 1u);
    int32_t rem = high & mask, threshold = (mask >> 1) + (high < 0 ? 1 : 0);
    return (high >> right) + (rem > threshold ? 1 : 0);
}

static inline int8_t sqz_clamp(int32_t v, int32_t lo, int32_t hi)
{
    return (int8_t)(v < lo ? lo : v > hi ? hi : v);
}

/* Channel c of one output value from its accumulator. */
static inline int8_t sqz_out(const sqz_conv_t *p, int c, int32_t acc)
{
    return sqz_clamp(sqz_requant(acc, p->mult[c], p->shift[c]) + p->out_zp, p->act_min, p->act_max);
}

/* The conv's output parameters in locals: stores through int8_t pointers may alias the struct, so the compiler
 * would reload every field after each output byte. */
typedef struct {
    int32_t zp, lo, hi;
    const int32_t *mult;
    const int8_t *shift;
    int32_t k; /* 1 + 2·zp, for sqz_requant_fast */
} sqz_requant_t;

static inline int8_t sqz_out_q(const sqz_requant_t *q, int c, int32_t acc)
{
    return sqz_clamp(sqz_requant(acc, q->mult[c], q->shift[c]) + q->zp, q->lo, q->hi);
}

#if SQZ_DSP
/* sqz_requant + zero point + clamp to [-128, 127] in seven instructions, for shift < 0 and |x| < 2^30 (rq 1, checked
 * at export). SMMULR(2x, m) = floor((2x·m + 2^31) / 2^32) = floor((x·m + 2^30) / 2^31), the doubling high multiply.
 * RoundingDivideByPOT(h, r) = floor((h' + 2^(r-1)) / 2^r) with h' = h − 1 for h < 0, = ((h' >> (r−1)) + 1) >> 1;
 * the zero point enters as k = 1 + 2·zp before the last halving (2·zp is even, so the floor is unchanged), and
 * SSAT's own ASR #1 does the halving. r1 = r − 1 = ~shift. */
static inline int32_t sqz_requant_fast(int32_t x, int32_t mult, int r1, int32_t k)
{
    int32_t h, v;
    __asm__("smmulr %0, %1, %2" : "=r"(h) : "r"((int32_t)((uint32_t)x << 1)), "r"(mult));
    v = ((h + (h >> 31)) >> r1) + k;
    __asm__("ssat %0, #8, %1, asr #1" : "=r"(v) : "r"(v));
    return v;
}

static inline uint32_t sqz_load4(const int8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

/* Bytes 1 and 3 of v sign-extended to two halfwords (SXTB16 with its ROR #8 operand, one instruction). */
static inline int32_t sqz_sxtb16_ror8(uint32_t v)
{
    int32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(v));
    return r;
}

/* n int8 values (n a multiple of 4) as int16 pairs in SXTB16's order, (x0, x2) and (x1, x3) for each 4, the pairs
 * of consecutive groups `step` words apart (4: two pixels interleaved, 2: one pixel). */
static void sqz_widen(const int8_t *src, int n, int32_t *dst, int step)
{
    int i;
    for (i = 0; i < n; i += 4, dst += step) {
        uint32_t u = sqz_load4(src + i);
        dst[0] = (int32_t)__sxtb16(u);
        dst[1] = sqz_sxtb16_ror8(u);
    }
}

/* The 8 bytes of a filter pair's 4 values: 8-aligned (the export aligns every filter array, and each pair's rows are
 * 2·kp bytes, a multiple of 8), so one LDRD. */
#if defined(__GNUC__)
#define SQZ_LOAD8(w, v, u)                                                                                             \
    do {                                                                                                               \
        uint32_t two_[2];                                                                                              \
        memcpy(two_, __builtin_assume_aligned((w), 8), 8);                                                             \
        (v) = two_[0];                                                                                                 \
        (u) = two_[1];                                                                                                 \
    } while (0)
#else
#define SQZ_LOAD8(w, v, u) ((v) = sqz_load4(w), (u) = sqz_load4((w) + 4))
#endif

/* Four values of two interleaved widened pixels (x[0..3]) against a filter pair's 8 bytes at w. */
#define SQZ_STEP2X2(x, w)                                                                                              \
    do {                                                                                                               \
        int32_t p0 = (x)[0], q0 = (x)[1], p1 = (x)[2], q1 = (x)[3], ve, vo;                                            \
        uint32_t v, u;                                                                                                 \
        SQZ_LOAD8(w, v, u);                                                                                            \
        ve = (int32_t)__sxtb16(v);                                                                                     \
        vo = sqz_sxtb16_ror8(v);                                                                                       \
        a = __smlad(p0, ve, a);                                                                                        \
        a = __smlad(q0, vo, a);                                                                                        \
        c = __smlad(p1, ve, c);                                                                                        \
        c = __smlad(q1, vo, c);                                                                                        \
        ve = (int32_t)__sxtb16(u);                                                                                     \
        vo = sqz_sxtb16_ror8(u);                                                                                       \
        b = __smlad(p0, ve, b);                                                                                        \
        b = __smlad(q0, vo, b);                                                                                        \
        d = __smlad(p1, ve, d);                                                                                        \
        d = __smlad(q1, vo, d);                                                                                        \
    } while (0)

/* Four values of two interleaved widened pixels against a filter pair (both pointers stepped), in 15 instructions
 * and 13 registers (so that it also compiles where r7 is the frame pointer). */
#define SQZ_ASM2X2                                                                                                     \
    "ldrd %[v], %[u], [%[w]], #8\n\t"                                                                                  \
    "ldrd %[p], %[q], [%[x]], #8\n\t"                                                                                  \
    "sxtb16 %[t], %[v]\n\t"                                                                                            \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                                                    \
    "smlad %[a], %[p], %[t], %[a]\n\t"                                                                                 \
    "smlad %[a], %[q], %[v], %[a]\n\t"                                                                                 \
    "sxtb16 %[s], %[u]\n\t"                                                                                            \
    "sxtb16 %[u], %[u], ror #8\n\t"                                                                                    \
    "smlad %[b], %[p], %[s], %[b]\n\t"                                                                                 \
    "smlad %[b], %[q], %[u], %[b]\n\t"                                                                                 \
    "ldrd %[p], %[q], [%[x]], #8\n\t"                                                                                  \
    "smlad %[c], %[p], %[t], %[c]\n\t"                                                                                 \
    "smlad %[c], %[q], %[v], %[c]\n\t"                                                                                 \
    "smlad %[d], %[p], %[s], %[d]\n\t"                                                                                 \
    "smlad %[d], %[q], %[u], %[d]\n\t"

/* Two interleaved widened pixels against a filter pair over n values: acc[0..3] += x0·w0, x0·w1, x1·w0, x1·w1; the
 * filter pointer after the pair. Per four values: four words of pixels, two words of filters split by SXTB16, eight
 * SMLADs. */
SQZ_INLINE const int8_t *sqz_dot2x2(const int32_t *x, const int8_t *w, int n, int32_t *acc)
{
    int32_t a = acc[0], b = acc[1], c = acc[2], d = acc[3];
    const int32_t *end = x + 4 * (n / 8) * 2;
#if defined(__GNUC__)
    /* Eight values a turn in 32 instructions: 6 LDRDs, 8 SXTB16s, 16 SMLADs, the compare and the branch. */
    int32_t p, q, v, u, t, r;
    if (x < end)
        __asm__ volatile("1:\n\t" SQZ_ASM2X2 SQZ_ASM2X2 "cmp %[x], %[end]\n\t"
                         "bne 1b\n\t"
                         : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c), [d] "+r"(d), [x] "+r"(x), [w] "+r"(w),
                           [p] "=&r"(p), [q] "=&r"(q), [v] "=&r"(v), [u] "=&r"(u), [t] "=&r"(t), [s] "=&r"(r)
                         : [end] "r"(end)
                         : "cc", "memory");
    if (n & 4) /* four values left */
        __asm__ volatile(SQZ_ASM2X2
                         : [a] "+r"(a), [b] "+r"(b), [c] "+r"(c), [d] "+r"(d), [x] "+r"(x), [w] "+r"(w),
                           [p] "=&r"(p), [q] "=&r"(q), [v] "=&r"(v), [u] "=&r"(u), [t] "=&r"(t), [s] "=&r"(r)
                         :
                         : "memory");
#else
    while (x < end) {
        SQZ_STEP2X2(x, w);
        SQZ_STEP2X2(x + 4, w + 8);
        x += 8;
        w += 16;
    }
    if (n & 4) {
        SQZ_STEP2X2(x, w);
        w += 8;
    }
#endif
    acc[0] = a; acc[1] = b; acc[2] = c; acc[3] = d;
    return w;
}

/* Four values of one widened pixel against a filter pair (both pointers stepped), in 10 instructions. */
#define SQZ_ASM1X2                                                                                                     \
    "ldrd %[p], %[q], [%[x]], #8\n\t"                                                                                  \
    "ldrd %[v], %[u], [%[w]], #8\n\t"                                                                                  \
    "sxtb16 %[t], %[v]\n\t"                                                                                            \
    "sxtb16 %[v], %[v], ror #8\n\t"                                                                                    \
    "smlad %[a], %[p], %[t], %[a]\n\t"                                                                                 \
    "smlad %[a], %[q], %[v], %[a]\n\t"                                                                                 \
    "sxtb16 %[t], %[u]\n\t"                                                                                            \
    "sxtb16 %[u], %[u], ror #8\n\t"                                                                                    \
    "smlad %[b], %[p], %[t], %[b]\n\t"                                                                                 \
    "smlad %[b], %[q], %[u], %[b]\n\t"

/* Four values of one widened pixel (x[0..1]) against a filter pair's 8 bytes at w. */
#define SQZ_STEP1X2(x, w)                                                                                              \
    do {                                                                                                               \
        int32_t p_ = (x)[0], q_ = (x)[1];                                                                              \
        uint32_t v, u;                                                                                                 \
        SQZ_LOAD8(w, v, u);                                                                                            \
        a = __smlad(p_, (int32_t)__sxtb16(v), a);                                                                      \
        a = __smlad(q_, sqz_sxtb16_ror8(v), a);                                                                        \
        b = __smlad(p_, (int32_t)__sxtb16(u), b);                                                                      \
        b = __smlad(q_, sqz_sxtb16_ror8(u), b);                                                                        \
    } while (0)

/* One widened pixel against a filter pair: acc[0] += x·w0, acc[1] += x·w1; eight values a turn. */
SQZ_INLINE const int8_t *sqz_dot1x2(const int32_t *x, const int8_t *w, int n, int32_t *acc)
{
    int32_t a = acc[0], b = acc[1];
    const int32_t *end = x + 2 * (n / 8) * 2;
#if defined(__GNUC__)
    int32_t p, q, v, u, t;
    if (x < end)
        __asm__ volatile("1:\n\t" SQZ_ASM1X2 SQZ_ASM1X2 "cmp %[x], %[end]\n\t"
                         "bne 1b\n\t"
                         : [a] "+r"(a), [b] "+r"(b), [x] "+r"(x), [w] "+r"(w), [p] "=&r"(p), [q] "=&r"(q),
                           [v] "=&r"(v), [u] "=&r"(u), [t] "=&r"(t)
                         : [end] "r"(end)
                         : "cc", "memory");
    if (n & 4)
        __asm__ volatile(SQZ_ASM1X2
                         : [a] "+r"(a), [b] "+r"(b), [x] "+r"(x), [w] "+r"(w), [p] "=&r"(p), [q] "=&r"(q),
                           [v] "=&r"(v), [u] "=&r"(u), [t] "=&r"(t)
                         :
                         : "memory");
#else
    while (x < end) {
        SQZ_STEP1X2(x, w);
        SQZ_STEP1X2(x + 2, w + 8);
        x += 4;
        w += 16;
    }
    if (n & 4) {
        SQZ_STEP1X2(x, w);
        w += 8;
    }
#endif
    acc[0] = a; acc[1] = b;
    return w;
}

#else
/* Two pixels against a filter pair (interleaved by 4) over n values, n a multiple of 4. */
static inline void sqz_dot2x2(const int8_t *x0, const int8_t *x1, const int8_t *w, int n, int32_t *acc)
{
    int32_t a = acc[0], b = acc[1], c = acc[2], d = acc[3];
    int i;
    for (i = 0; i < n; i += 4, x0 += 4, x1 += 4, w += 8) {
        int j;
        for (j = 0; j < 4; ++j) {
            int32_t p = x0[j], q = x1[j], u = w[j], v = w[4 + j];
            a += p * u;
            b += p * v;
            c += q * u;
            d += q * v;
        }
    }
    acc[0] = a; acc[1] = b; acc[2] = c; acc[3] = d;
}
#endif

/* The taps of output pixel (oy, ox) as one contiguous vector of kp values: the input where a tap lies inside the
 * map, the input zero point where it lies in the padding (which then adds nothing: bias_in already holds
 * in_off · w for every tap), the zero point again up to kp (whose weights are 0). */
static void sqz_gather(const sqz_conv_t *p, const int8_t *in, int oy, int ox, int8_t *dst)
{
    int y0 = oy * p->sh - p->ph, x0 = ox * p->sw - p->pw, ky, kx;
    int8_t zp = (int8_t)(-p->in_off);
    for (ky = 0; ky < p->kh; ++ky) {
        if (y0 + ky >= 0 && y0 + ky < p->ih && x0 >= 0 && x0 + p->kw <= p->iw) { /* the whole row inside */
            memcpy(dst, in + ((long)(y0 + ky) * p->iw + x0) * p->ic, (size_t)(p->kw * p->ic));
            dst += p->kw * p->ic;
            continue;
        }
        for (kx = 0; kx < p->kw; ++kx) {
            int y = y0 + ky, x = x0 + kx;
            int inside = y >= 0 && y < p->ih && x >= 0 && x < p->iw;
            if (p->ic == 1)
                *dst = inside ? in[(long)y * p->iw + x] : zp;
            else if (inside)
                memcpy(dst, in + ((long)y * p->iw + x) * p->ic, (size_t)p->ic);
            else
                memset(dst, zp, (size_t)p->ic);
            dst += p->ic;
        }
    }
    memset(dst, zp, (size_t)(p->kp - p->kh * p->kw * p->ic));
}

static int sqz_inside(const sqz_conv_t *p, int oy, int ox)
{
    int y = oy * p->sh - p->ph, x = ox * p->sw - p->pw;
    return !p->gather && y >= 0 && x >= 0 && y + p->kh <= p->ih && x + p->kw <= p->iw;
}

#if !SQZ_DSP
/* Output pixels a and b (may be equal) for all channels, a filter pair at a time: `rows` dot products of `len`
 * values, the rows of x0 and x1 `pitch` bytes apart. */
static void sqz_conv_pair(const sqz_conv_t *p, const int8_t *x0, const int8_t *x1, long pitch, int rows, int len,
                          int8_t *oa, int8_t *ob)
{
    const sqz_requant_t q = {p->out_zp, p->act_min, p->act_max, p->mult, p->shift, 1 + 2 * p->out_zp};
    const int oc = p->oc, kp = p->kp;
    const int32_t *bias = p->bias_in;
    int c, r;
    for (c = 0; c < oc; c += 2) {
        int32_t acc[4];
        const int8_t *w = p->w + (long)c * kp;
        acc[0] = acc[2] = bias[c];
        acc[1] = acc[3] = bias[c + 1];
        for (r = 0; r < rows; ++r) sqz_dot2x2(x0 + r * pitch, x1 + r * pitch, w + 2 * r * len, len, acc);
        oa[c] = sqz_out_q(&q, c, acc[0]);
        ob[c] = sqz_out_q(&q, c, acc[2]);
        if (c + 1 < oc) {
            oa[c + 1] = sqz_out_q(&q, c + 1, acc[1]);
            ob[c + 1] = sqz_out_q(&q, c + 1, acc[3]);
        }
    }
}
#endif

#ifdef SQZ_REFERENCE_LOOPS
/* The whole conv the way TFLite's reference kernel computes it: for each output value, (x + in_off) · w over the
 * taps inside the map (each filter first copied out contiguous, as TFLite stores it). */
static void sqz_conv_reference(const sqz_conv_t *p, const int8_t *in, int8_t *out, int first, int count)
{
    int c, ky, kx, i, j;
    int8_t *w = (int8_t *)p->wide;
    for (c = 0; c < p->oc; ++c) {
        const int8_t *pair = p->w + (long)(c / 2) * 2 * p->kp + (c % 2) * 4;
        int32_t all = 0;
        for (i = 0; i < p->kp; ++i) w[i] = pair[(i / 4) * 8 + i % 4];
        for (i = 0; i < p->kh * p->kw * p->ic; ++i) all += p->in_off * w[i];
        for (j = first; j < first + count; ++j) {
                int y0 = (j / p->ow) * p->sh - p->ph, x0 = (j % p->ow) * p->sw - p->pw;
                int32_t acc = p->bias_in[c] - all; /* the model's bias */
                for (ky = 0; ky < p->kh; ++ky)
                    for (kx = 0; kx < p->kw; ++kx) {
                        int y = y0 + ky, x = x0 + kx;
                        const int8_t *xi = in + ((long)y * p->iw + x) * p->ic, *wi = w + (ky * p->kw + kx) * p->ic;
                        if (y < 0 || y >= p->ih || x < 0 || x >= p->iw) continue;
                        for (i = 0; i < p->ic; ++i) acc += (xi[i] + p->in_off) * wi[i];
                    }
                out[(long)(j - first) * p->out_stride + c] = sqz_out(p, c, acc);
        }
    }
}
#endif

#if SQZ_DSP
/* Output pixel i's taps widened into dst (`step` as sqz_widen): rows read in place when every tap lies inside the
 * map, else gathered first. */
static void sqz_widen_pixel(const sqz_conv_t *p, const int8_t *in, int i, int32_t *dst, int step)
{
    int oy = i / p->ow, ox = i % p->ow;
    if (sqz_inside(p, oy, ox)) {
        const int8_t *x = in + ((long)(oy * p->sh - p->ph) * p->iw + ox * p->sw - p->pw) * p->ic;
        int len = p->kw * p->ic, r;
        for (r = 0; r < p->kh; ++r, x += (long)p->iw * p->ic, dst += (len / 4) * step) sqz_widen(x, len, dst, step);
    } else {
        sqz_gather(p, in, oy, ox, p->scratch);
        sqz_widen(p->scratch, p->kp, dst, step);
    }
}

/* Channel c's output value from its accumulator, requantised as `mode` (sqz_conv_t.rq) says; m and s are the
 * channel's multiplier and shift (mult[c], shift[c]), which the callers hold already. */
SQZ_INLINE int8_t sqz_out_mode(const sqz_requant_t *q, int mode, int c, int32_t m, int s, int32_t acc)
{
    int32_t v;
    if (mode == 0) return sqz_out_q(q, c, acc);
    v = sqz_requant_fast(acc, m, ~s, q->k);
    if (mode == 2) v = v < q->lo ? q->lo : v > q->hi ? q->hi : v;
    return (int8_t)v;
}

/* CONV_2D (per-channel int8, fused NONE/RELU) with SMLAD: each pair of output pixels widened once, then every
 * filter pair against both; a last odd pixel alone. Inlined once per requantisation mode. */
SQZ_INLINE void sqz_conv_span_dsp(const sqz_conv_t *p, const int8_t *in, int8_t *out, int first, int count, int mode)
{
    int n = first + count, i, c;
    const sqz_requant_t q = {p->out_zp, p->act_min, p->act_max, p->mult, p->shift, 1 + 2 * p->out_zp};
    const int oc = p->oc, kp = p->kp, pairs = oc / 2;
    const int32_t *wide = p->wide;
    for (i = first; i + 1 < n; i += 2) {
        int8_t *oa = out + (long)(i - first) * p->out_stride, *ob = oa + p->out_stride;
        const int32_t *bias = p->bias_in, *mult = p->mult;
        const int8_t *w = p->w, *shift = p->shift;
        sqz_widen_pixel(p, in, i, p->wide, 4);
        sqz_widen_pixel(p, in, i + 1, p->wide + 2, 4);
        /* Filter pairs in turn, every pointer stepped (the dot product leaves w at the next pair). */
        for (c = 0; c < pairs; ++c, bias += 2, mult += 2, shift += 2, oa += 2, ob += 2) {
            int32_t acc[4];
            acc[0] = acc[2] = bias[0];
            acc[1] = acc[3] = bias[1];
            w = sqz_dot2x2(wide, w, kp, acc);
            {   /* all four values before the first store (an int8 store may alias shift[]) */
                int32_t m0 = mult[0], m1 = mult[1];
                int s0 = shift[0], s1 = shift[1];
                int8_t v0 = sqz_out_mode(&q, mode, 2 * c, m0, s0, acc[0]);
                int8_t v2 = sqz_out_mode(&q, mode, 2 * c, m0, s0, acc[2]);
                int8_t v1 = sqz_out_mode(&q, mode, 2 * c + 1, m1, s1, acc[1]);
                int8_t v3 = sqz_out_mode(&q, mode, 2 * c + 1, m1, s1, acc[3]);
                oa[0] = v0;
                oa[1] = v1;
                ob[0] = v2;
                ob[1] = v3;
            }
        }
        if (oc & 1) { /* the last filter, paired with zeros */
            int32_t acc[4];
            acc[0] = acc[2] = bias[0];
            acc[1] = acc[3] = 0;
            sqz_dot2x2(wide, w, kp, acc);
            {
                int8_t v0 = sqz_out_mode(&q, mode, oc - 1, mult[0], shift[0], acc[0]);
                int8_t v2 = sqz_out_mode(&q, mode, oc - 1, mult[0], shift[0], acc[2]);
                oa[0] = v0;
                ob[0] = v2;
            }
        }
    }
    if (i < n) {
        int8_t *oa = out + (long)(i - first) * p->out_stride;
        const int8_t *w = p->w;
        sqz_widen_pixel(p, in, i, p->wide, 2);
        for (c = 0; c < oc; c += 2) {
            int32_t acc[2];
            acc[0] = p->bias_in[c];
            acc[1] = p->bias_in[c + 1];
            w = sqz_dot1x2(wide, w, kp, acc);
            oa[c] = sqz_out_mode(&q, mode, c, p->mult[c], p->shift[c], acc[0]);
            if (c + 1 < oc) oa[c + 1] = sqz_out_mode(&q, mode, c + 1, p->mult[c + 1], p->shift[c + 1], acc[1]);
        }
    }
}

static void sqz_conv_span(const sqz_conv_t *p, const int8_t *in, int8_t *out, int first, int count)
{
#ifdef SQZ_REFERENCE_LOOPS
    sqz_conv_reference(p, in, out, first, count);
    return;
#endif
    if (p->rq == 1)
        sqz_conv_span_dsp(p, in, out, first, count, 1);
    else if (p->rq == 2)
        sqz_conv_span_dsp(p, in, out, first, count, 2);
    else
        sqz_conv_span_dsp(p, in, out, first, count, 0);
}
#else
/* CONV_2D (per-channel int8, fused NONE/RELU), plain C, two output pixels at a time: pixels whose taps all lie inside
 * the map read the input rows in place; the others (and every pixel of a conv with `gather` set) are gathered first. */
static void sqz_conv_span(const sqz_conv_t *p, const int8_t *in, int8_t *out, int first, int count)
{
    int n = first + count, direct = -1, gathered = -1, i;
    long pitch = (long)p->iw * p->ic;
    int len = p->kw * p->ic;
#ifdef SQZ_REFERENCE_LOOPS
    sqz_conv_reference(p, in, out, first, count);
    return;
#endif
    for (i = first; i < n; ++i) {
        int oy = i / p->ow, ox = i % p->ow;
        if (sqz_inside(p, oy, ox)) {
            if (direct < 0) {
                direct = i;
            } else {
                const int8_t *xa = in + ((long)((direct / p->ow) * p->sh - p->ph) * p->iw +
                                         (direct % p->ow) * p->sw - p->pw) * p->ic;
                const int8_t *xb = in + ((long)(oy * p->sh - p->ph) * p->iw + ox * p->sw - p->pw) * p->ic;
                sqz_conv_pair(p, xa, xb, pitch, p->kh, len, out + (long)(direct - first) * p->out_stride,
                              out + (long)(i - first) * p->out_stride);
                direct = -1;
            }
        } else {
            sqz_gather(p, in, oy, ox, p->scratch + (gathered < 0 ? 0 : p->kp));
            if (gathered < 0) {
                gathered = i;
            } else {
                sqz_conv_pair(p, p->scratch, p->scratch + p->kp, 0, 1, p->kp, out + (long)(gathered - first) * p->out_stride,
                              out + (long)(i - first) * p->out_stride);
                gathered = -1;
            }
        }
    }
    if (direct >= 0) {
        const int8_t *xa = in + ((long)((direct / p->ow) * p->sh - p->ph) * p->iw + (direct % p->ow) * p->sw - p->pw) *
                                    p->ic;
        sqz_conv_pair(p, xa, xa, pitch, p->kh, len, out + (long)(direct - first) * p->out_stride,
                      out + (long)(direct - first) * p->out_stride);
    }
    if (gathered >= 0)
        sqz_conv_pair(p, p->scratch, p->scratch, 0, 1, p->kp, out + (long)(gathered - first) * p->out_stride,
                      out + (long)(gathered - first) * p->out_stride);
}

#endif

/* CONV_2D over the whole output map. */
SQZ_KERNEL void sqz_conv(const sqz_conv_t *p, const int8_t *in, int8_t *out)
{
    sqz_conv_span(p, in, out, 0, p->oh * p->ow);
}

#if SQZ_DSP
/* out[i] = max(out[i], in[i]) for n bytes, four at a time (SSUB8 sets the lanes' GE flags, SEL picks). */
static void sqz_max_bytes(int8_t *out, const int8_t *in, int n)
{
    int i = 0;
    for (; i + 4 <= n; i += 4) {
        uint32_t a = sqz_load4(out + i), b = sqz_load4(in + i), m;
        (void)__ssub8((int8x4_t)a, (int8x4_t)b);
        m = (uint32_t)__sel((uint8x4_t)a, (uint8x4_t)b);
        memcpy(out + i, &m, 4);
    }
    for (; i < n; ++i)
        if (in[i] > out[i]) out[i] = in[i];
}
#else
/* out[i] = max(out[i], in[i]) for n bytes. */
static void sqz_max_bytes(int8_t *out, const int8_t *in, int n)
{
    int i;
    for (i = 0; i < n; ++i)
        if (in[i] > out[i]) out[i] = in[i];
}
#endif

/* MAX_POOL_2D: the largest value in each window that lies inside the map, clamped to the activation range; all
 * channels of a window pixel at once. */
SQZ_KERNEL void sqz_maxpool(const int8_t *in, int8_t *out, int ih, int iw, int c, int oh, int ow, int fh, int fw,
                            int sh, int sw, int ph, int pw, int32_t lo, int32_t hi)
{
    int oy, ox, ch;
    for (oy = 0; oy < oh; ++oy) {
        for (ox = 0; ox < ow; ++ox) {
            int y0 = oy * sh - ph, x0 = ox * sw - pw;
            int ys = y0 < 0 ? -y0 : 0, ye = ih - y0 < fh ? ih - y0 : fh;
            int xs = x0 < 0 ? -x0 : 0, xe = iw - x0 < fw ? iw - x0 : fw;
            int8_t *o = out + ((long)oy * ow + ox) * c;
            int y, x;
            memset(o, -128, (size_t)c);
            for (y = ys; y < ye; ++y)
                for (x = xs; x < xe; ++x) sqz_max_bytes(o, in + ((long)(y0 + y) * iw + x0 + x) * c, c);
            if (lo > -128 || hi < 127)
                for (ch = 0; ch < c; ++ch) o[ch] = sqz_clamp(o[ch], lo, hi);
        }
    }
}

/* CONV_2D then MAX_POOL_2D without the conv's whole output: its rows are computed as the pool reaches them into
 * `band`, fh rows of ow·oc bytes reused in turn. The values are those of sqz_conv followed by sqz_maxpool. */
SQZ_KERNEL void sqz_conv_pool(const sqz_conv_t *p, const int8_t *in, int8_t *band, int8_t *out, int oh, int ow,
                              int fh, int fw, int sh, int sw, int ph, int pw, int32_t lo, int32_t hi)
{
    long row = (long)p->ow * p->oc;
    int done = 0, oy, ox, ch, c = p->oc;
    for (oy = 0; oy < oh; ++oy) {
        int y0 = oy * sh - ph;
        int ys = y0 < 0 ? -y0 : 0, ye = p->oh - y0 < fh ? p->oh - y0 : fh;
        for (; done < y0 + ye; ++done) sqz_conv_span(p, in, band + (done % fh) * row, done * p->ow, p->ow);
        for (ox = 0; ox < ow; ++ox) {
            int x0 = ox * sw - pw;
            int xs = x0 < 0 ? -x0 : 0, xe = p->ow - x0 < fw ? p->ow - x0 : fw;
            int8_t *o = out + ((long)oy * ow + ox) * c;
            int y, x;
            memset(o, -128, (size_t)c);
            for (y = ys; y < ye; ++y)
                for (x = xs; x < xe; ++x) sqz_max_bytes(o, band + ((y0 + y) % fh) * row + (long)(x0 + x) * c, c);
            if (lo > -128 || hi < 127)
                for (ch = 0; ch < c; ++ch) o[ch] = sqz_clamp(o[ch], lo, hi);
        }
    }
}

/* ADD of two same-shape tensors: both rescaled to twice the larger scale with 20 bits of headroom, summed,
 * rescaled to the output (TFLite's int8 Add). */
SQZ_KERNEL void sqz_add(const int8_t *a, const int8_t *b, int8_t *out, long n, int32_t a_off, int32_t b_off,
                    int32_t a_mult, int a_shift, int32_t b_mult, int b_shift, int32_t o_mult, int o_shift,
                    int32_t out_zp, int32_t lo, int32_t hi)
{
    long i;
    for (i = 0; i < n; ++i) {
        int32_t x = sqz_requant((a[i] + a_off) * (1 << 20), a_mult, a_shift);
        int32_t y = sqz_requant((b[i] + b_off) * (1 << 20), b_mult, b_shift);
        out[i] = sqz_clamp(sqz_requant(x + y, o_mult, o_shift) + out_zp, lo, hi);
    }
}

/* MEAN over height and width (keep_dims): the sum of (x - in_zp) times a multiplier that holds 1/hw. */
SQZ_KERNEL void sqz_mean_hw(const int8_t *in, int8_t *out, int hw, int c, int32_t in_zp, int32_t mult, int shift,
                            int32_t out_zp)
{
    int ch, i;
    for (ch = 0; ch < c; ++ch) {
        int32_t acc = 0;
        for (i = 0; i < hw; ++i) acc += in[(long)i * c + ch] - in_zp;
        out[ch] = sqz_clamp(sqz_requant(acc, mult, shift) + out_zp, -128, 127);
    }
}

/* PAD of height and width with the zero point (top/left given, bottom/right what the output leaves). */
SQZ_KERNEL void sqz_pad(const int8_t *in, int8_t *out, int ih, int iw, int c, int oh, int ow, int top, int left,
                    int8_t value)
{
    int y;
    memset(out, value, (size_t)oh * (size_t)ow * (size_t)c);
    for (y = 0; y < ih; ++y)
        memcpy(out + ((long)(y + top) * ow + left) * c, in + (long)y * iw * c, (size_t)iw * (size_t)c);
}

/* CONCATENATION on channels, for inputs not written in place: each input's channels at offset `at`. */
SQZ_KERNEL void sqz_concat_one(const int8_t *in, int8_t *out, long pixels, int c, int at, int out_c)
{
    long i;
    for (i = 0; i < pixels; ++i) memcpy(out + i * out_c + at, in + i * c, (size_t)c);
}
