#include "dietgen/ring.h"

/* Orders the block's samples before the counter that publishes them: a full barrier where a second core or
 * DMA could see them early, a compiler barrier at least. */
#if defined(__GNUC__)
#define DG_PUBLISH() __sync_synchronize()
#else
#define DG_PUBLISH() ((void)0)
#endif

DG_API void dg_ring_init(dg_ring *ring, int16_t *samples, dg_int block, uint8_t blocks)
{
    ring->samples = samples;
    ring->block = block;
    ring->blocks = blocks;
    ring->filled = 0;
    ring->taken = 0;
    ring->silent = 0;
    ring->pos = 0;
    ring->underruns = 0;
    ring->overruns = 0;
}

static uint8_t waiting(const dg_ring *ring)
{
    return (uint8_t)(ring->filled - ring->taken);
}

static int16_t *block_at(const dg_ring *ring, uint8_t count)
{
    return ring->samples + (dg_int)(count % ring->blocks) * ring->block;
}

DG_API int16_t *dg_ring_free_block(dg_ring *ring)
{
    return waiting(ring) < ring->blocks ? block_at(ring, ring->filled) : 0;
}

DG_API void dg_ring_push(dg_ring *ring)
{
    DG_PUBLISH();
    ring->filled = (uint8_t)(ring->filled + 1);
}

DG_API void dg_ring_take(dg_ring *ring, int16_t *dst, dg_int n)
{
    while (n > 0) {
        dg_int run;
        if (ring->pos == 0)
            ring->silent = waiting(ring) == 0;
        if (ring->silent && ring->pos == 0)
            ++ring->underruns;
        run = ring->block - ring->pos < n ? ring->block - ring->pos : n;
        if (ring->silent)
            memset(dst, 0, (size_t)run * sizeof(int16_t));
        else
            memcpy(dst, block_at(ring, ring->taken) + ring->pos, (size_t)run * sizeof(int16_t));
        dst += run;
        n -= run;
        ring->pos += run;
        if (ring->pos == ring->block) {
            ring->pos = 0;
            if (!ring->silent) {
                DG_PUBLISH();
                ring->taken = (uint8_t)(ring->taken + 1);
            }
        }
    }
}

DG_API int16_t dg_ring_take1(dg_ring *ring)
{
    int16_t s;
    dg_ring_take(ring, &s, 1);
    return s;
}

DG_API void dg_ring_put(dg_ring *ring, const int16_t *src, dg_int n)
{
    while (n > 0) {
        dg_int run = ring->block - ring->pos < n ? ring->block - ring->pos : n;
        /* A block starting while every block waits is dropped whole (the loop fell behind). */
        if (ring->pos == 0)
            ring->silent = waiting(ring) == ring->blocks;
        if (ring->silent && ring->pos == 0)
            ++ring->overruns;
        if (!ring->silent)
            memcpy(block_at(ring, ring->filled) + ring->pos, src, (size_t)run * sizeof(int16_t));
        src += run;
        n -= run;
        ring->pos += run;
        if (ring->pos == ring->block) {
            ring->pos = 0;
            if (!ring->silent)
                dg_ring_push(ring);
        }
    }
}

DG_API void dg_ring_put1(dg_ring *ring, int16_t sample)
{
    dg_ring_put(ring, &sample, 1);
}

DG_API const int16_t *dg_ring_full_block(dg_ring *ring)
{
    return waiting(ring) ? block_at(ring, ring->taken) : 0;
}

DG_API void dg_ring_release(dg_ring *ring)
{
    DG_PUBLISH();
    ring->taken = (uint8_t)(ring->taken + 1);
}

DG_API int16_t dg_pcm16(float x)
{
    if (!(x > -1.0f))
        x = -1.0f;
    if (x > 1.0f)
        x = 1.0f;
    return (int16_t)(x * 32767.0f);
}

DG_API float dg_pcm_float(int16_t s)
{
    return (float)s * (1.0f / 32768.0f);
}
