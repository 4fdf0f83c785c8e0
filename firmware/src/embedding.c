#include "dietgen/embedding.h"

DG_API void dg_embedding(const float *codes, const float *table, float *y, dg_int n, dg_int classes, dg_int dim)
{
    const float top = (float)(classes - 1);
    dg_int i, j;
    for (i = 0; i < n; ++i) {
        float c = codes[i];
        const float *row;
        /* Codes are run-time values (a model's own output fed back, a host's message): whatever arrives, even
         * NaN, must pick a row inside the table. classes <= 2^23 (checked at export), so c + 0.5f stays below
         * classes. */
        if (!(c >= 0.0f))
            c = 0.0f;
        else if (c > top)
            c = top;
        row = table + (dg_int)(c + 0.5f) * dim;
        for (j = 0; j < dim; ++j)
            y[i * dim + j] = DG_RD(row + j);
    }
}
