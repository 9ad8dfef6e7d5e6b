/* sqz example: classify the images in sqz_images.h with sqz_model.c and print each one's label.
 * Bare metal, no heap, no RTOS. Under qemu printf goes out through semihosting; on a board, retarget it to a
 * UART (or replace printf with your board's serial call). */
#include <stdio.h>

#include "sqz_images.h"
#include "sqz_model.h"

static int8_t input[SQZ_INPUT_SIZE];
static int8_t scores[SQZ_OUTPUT_SIZE];

int main(void)
{
    int i;
    for (i = 0; i < SQZ_EXAMPLE_COUNT; ++i) {
        int best;
        sqz_quantize_pixels(sqz_example_pixels[i], input);
        if (sqz_invoke(input, scores) != 0) return 1;
        best = sqz_argmax(scores);
        printf("%s: %s (score %d)\n", sqz_example_names[i], sqz_labels[best], scores[best]);
    }
    return 0;
}
