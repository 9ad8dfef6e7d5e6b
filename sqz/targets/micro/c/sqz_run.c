/* sqz_run: classify every input in sqz_in.bin (SQZ_INPUT_SIZE int8 values each) and write the raw outputs to
 * sqz_out.bin. On the host it uses stdio; on a Cortex-M under qemu the same stdio goes through semihosting.
 * It prints one line: images, SysTick ticks of the first inference (Cortex-M), stack bytes sqz_invoke used. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "sqz_model.h"

#define SQZ_PAINT_BYTES 24576
#define SQZ_PAINT_VALUE 0xA5

#if defined(__arm__) && defined(__ARM_ARCH_PROFILE) && __ARM_ARCH_PROFILE == 'M'
#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)
#define SQZ_SYSTICK 1
#else
#define SQZ_SYSTICK 0
#endif

static int8_t input[SQZ_INPUT_SIZE];
static int8_t output[SQZ_OUTPUT_SIZE];

#if SQZ_SYSTICK
/* The stack pointer now; the area below it (less a small gap) is painted before the first inference. */
static volatile uint8_t *paint_top(void)
{
    uintptr_t sp;
    __asm__ volatile("mov %0, sp" : "=r"(sp));
    return (volatile uint8_t *)(sp - 64u);
}

static void paint_stack(volatile uint8_t *top)
{
    long i;
    for (i = 1; i <= SQZ_PAINT_BYTES; ++i) top[-i] = SQZ_PAINT_VALUE;
}

/* Bytes below `top` written since paint_stack: from the deep end up to the first changed byte. */
static long stack_used(volatile uint8_t *top)
{
    long i = SQZ_PAINT_BYTES;
    while (i > 0 && top[-i] == SQZ_PAINT_VALUE) --i;
    return i;
}
#endif

int main(void)
{
    FILE *in = fopen("sqz_in.bin", "rb");
    FILE *out = fopen("sqz_out.bin", "wb");
    long images = 0, ticks = -1, stack = -1;
    int wrapped = 0;
    if (in == NULL || out == NULL) {
        printf("sqz_run: cannot open sqz_in.bin or sqz_out.bin\n");
        return 3;
    }
    while (fread(input, 1, SQZ_INPUT_SIZE, in) == SQZ_INPUT_SIZE) {
        if (images == 0) {
#if SQZ_SYSTICK
            uint32_t t0, t1;
            volatile uint8_t *top = paint_top();
            paint_stack(top);
            SYST_RVR = 0xFFFFFFu;
            SYST_CVR = 0u;
            SYST_CSR = 5u;
            t0 = SYST_CVR;
            if (sqz_invoke(input, output) != 0) return 4;
            t1 = SYST_CVR;
            wrapped = (SYST_CSR >> 16) & 1u;
            ticks = (long)((t0 - t1) & 0xFFFFFFu);
            stack = stack_used(top);
#else
            if (sqz_invoke(input, output) != 0) return 4;
#endif
        } else if (sqz_invoke(input, output) != 0) {
            return 4;
        }
        if (fwrite(output, 1, SQZ_OUTPUT_SIZE, out) != SQZ_OUTPUT_SIZE) return 5;
        ++images;
    }
    fclose(in);
    fclose(out);
    printf("sqz_run images=%ld ticks=%ld wrapped=%d stack=%ld arena=%d\n", images, ticks, wrapped, stack,
           SQZ_ARENA_BYTES);
    return 0;
}
