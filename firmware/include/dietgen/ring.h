#ifndef DG_RING_H
#define DG_RING_H
#include "dietgen/common.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Blocks of 16-bit audio between the model's loop and the board's audio hardware (a timer interrupt, an
 * audio callback, a DMA-complete interrupt). One side moves whole blocks, the other single samples or
 * whatever count the hardware asks for; each counter is written by one side only and is one byte, so the
 * ring needs no lock even on an 8-bit core.
 *
 * Output (the model plays): the loop fills a block while the hardware plays the one before it. When the
 * hardware needs a block that is not ready, that is an underrun: it is counted and one block of silence is
 * played in its place, so the timing of what follows stays true.
 * Input (an effect's audio): the hardware fills blocks, the loop processes them; a block arriving while every
 * block is still waiting is an overrun, counted and dropped. */
typedef struct {
    int16_t *samples;                /* blocks * block samples, owned by the caller */
    dg_int block;                    /* samples per block */
    uint8_t blocks;                  /* a power of two up to 128: 2 is double buffering */
    volatile uint8_t filled;         /* blocks completed by the producer, modulo 256 */
    volatile uint8_t taken;          /* blocks released by the consumer, modulo 256 */
    uint8_t silent;                  /* output: the hardware is playing an underrun's block of silence */
    dg_int pos;                      /* the hardware side's sample inside its current block */
    volatile uint32_t underruns;     /* output blocks that were not ready when due */
    volatile uint32_t overruns;      /* input blocks dropped because the loop was late */
} dg_ring;

DG_API void dg_ring_init(dg_ring *ring, int16_t *samples, dg_int block, uint8_t blocks);

/* The loop's side of an output ring: the block to compute into next, or NULL while every block is waiting to
 * be played; dg_ring_push hands it to the hardware. */
DG_API int16_t *dg_ring_free_block(dg_ring *ring);
DG_API void dg_ring_push(dg_ring *ring);

/* The hardware's side of an output ring: the next n samples (an underrun's silence where a block is late). */
DG_API void dg_ring_take(dg_ring *ring, int16_t *dst, dg_int n);
DG_API int16_t dg_ring_take1(dg_ring *ring);

/* The hardware's side of an input ring: n samples in. */
DG_API void dg_ring_put(dg_ring *ring, const int16_t *src, dg_int n);
DG_API void dg_ring_put1(dg_ring *ring, int16_t sample);

/* The loop's side of an input ring: the oldest complete block, or NULL; dg_ring_release gives it back. */
DG_API const int16_t *dg_ring_full_block(dg_ring *ring);
DG_API void dg_ring_release(dg_ring *ring);

/* A sample in [-1, 1] (clipped beyond) as 16-bit PCM, and back. */
DG_API int16_t dg_pcm16(float x);
DG_API float dg_pcm_float(int16_t s);

#ifdef __cplusplus
}
#endif

#endif
