/* winograd.c - the transform matrices of Winograd's minimal filtering
 * algorithm F(m x m, r x r) as TVM builds them, and the weight transform.
 *
 * TVM (topi/nn/winograd_util.py) derives A, B and G by Cook-Toom from fixed
 * interpolation points (Barabasz et al., arXiv:1803.10986) plus the point at
 * infinity; the same points give the same matrices and the same rounding, so
 * a schedule tuned there computes the same values here.  With the finite
 * points a_0..a_{n-1} (n = alpha - 1, alpha = m + r - 1):
 *
 *   A[i][k] = a_i^k                 (alpha x m; the last row e_{m-1})
 *   G[i][j] = a_i^j / f_i           (alpha x r; the last row e_{r-1})
 *   f_i     = prod_{k != i} (a_i - a_k), with f_0 made positive
 *
 * and B follows from A and G: the 1-D identity
 *   y = A^T [(G g) .* (B^T d)]
 * holds for every g, d exactly when sum_i A[i][k] G[i][j] B^T[i][l] =
 * [l == k + j], and A[i][k] G[i][j] depends on k + j only (a_i^(k+j) / f_i;
 * at infinity [k + j == alpha - 1]), so B^T is the inverse of the alpha x
 * alpha matrix V[s][i] = a_i^s / f_i (V[s][inf] = [s == alpha - 1]).
 * TVM stores B (its data_pack reads B[r_a][eps]), not B^T.
 */
#include <math.h>
#include <string.h>

#include "dag.h"

/* The finite interpolation points of F(m, 3) (TVM's _interpolation_points). */
static int points(int m, double *a)
{
    static const double p2[] = {0, -1, 1};
    static const double p4[] = {0, -1, 1, 0.5, -2};
    static const double p6[] = {0, -1, 1, 0.5, -0.5, 2, -2};
    const double *p = m == 2 ? p2 : m == 4 ? p4 : m == 6 ? p6 : NULL;
    if (!p)
        return -1;
    memcpy(a, p, (size_t)(m + 1) * sizeof *a);
    return m + 1;
}

/* Invert the n x n matrix M (row-major) into R by Gauss-Jordan elimination
 * with partial pivoting; -1 if singular. */
static int invert(int n, const double *M, double *R)
{
    double W[TT_WINO_MAX_ALPHA * 2 * TT_WINO_MAX_ALPHA];
    int w = 2 * n;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < w; j++)
            W[i * w + j] = j < n ? M[i * n + j] : (j - n == i);
    for (int c = 0; c < n; c++) {
        int piv = c;
        for (int i = c + 1; i < n; i++)
            if (fabs(W[i * w + c]) > fabs(W[piv * w + c]))
                piv = i;
        if (fabs(W[piv * w + c]) < 1e-12)
            return -1;
        for (int j = 0; j < w; j++) {
            double t = W[c * w + j];
            W[c * w + j] = W[piv * w + j];
            W[piv * w + j] = t;
        }
        double d = W[c * w + c];
        for (int j = 0; j < w; j++)
            W[c * w + j] /= d;
        for (int i = 0; i < n; i++) {
            if (i == c || W[i * w + c] == 0)
                continue;
            double f = W[i * w + c];
            for (int j = 0; j < w; j++)
                W[i * w + j] -= f * W[c * w + j];
        }
    }
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            R[i * n + j] = W[i * w + n + j];
    return 0;
}

int tt_winograd_matrices(int m, int r, double *A, double *B, double *G)
{
    double a[TT_WINO_MAX_ALPHA];
    if (r != 3 || points(m, a) < 0)
        return -1;
    int alpha = m + r - 1, n = alpha - 1;
    double f[TT_WINO_MAX_ALPHA];
    for (int i = 0; i < n; i++) {
        f[i] = 1;
        for (int k = 0; k < n; k++)
            if (k != i)
                f[i] *= a[i] - a[k];
    }
    if (f[0] < 0)
        f[0] = -f[0];
    for (int i = 0; i < alpha; i++) {
        for (int k = 0; k < m; k++)
            A[i * m + k] = i < n ? pow(a[i], k) : (k == m - 1);
        for (int j = 0; j < r; j++)
            G[i * r + j] = i < n ? pow(a[i], j) / f[i] : (j == r - 1);
    }
    double V[TT_WINO_MAX_ALPHA * TT_WINO_MAX_ALPHA], BT[TT_WINO_MAX_ALPHA * TT_WINO_MAX_ALPHA];
    for (int s = 0; s < alpha; s++)
        for (int i = 0; i < alpha; i++)
            V[s * alpha + i] = i < n ? pow(a[i], s) / f[i] : (s == alpha - 1);
    if (invert(alpha, V, BT))
        return -1;
    /* BT = V^-1 is B^T: B[l][i] = BT[i][l] */
    for (int l = 0; l < alpha; l++)
        for (int i = 0; i < alpha; i++) {
            double v = BT[i * alpha + l];
            /* the entries are small rationals: drop the elimination's dust */
            B[l * alpha + i] = fabs(v) < 1e-13 ? 0 : v;
        }
    return 0;
}

int tt_winograd_transform_weight(int m, int64_t ci, int64_t co, const float *hwio, float *out)
{
    double A[TT_WINO_MAX_ALPHA * 8], B[TT_WINO_MAX_ALPHA * TT_WINO_MAX_ALPHA], G[TT_WINO_MAX_ALPHA * 3];
    if (tt_winograd_matrices(m, 3, A, B, G))
        return -1;
    int alpha = m + 2;
    /* out[eps][nu][o][c] = sum_{kh,kw} G[eps][kh] g[kh][kw][c][o] G[nu][kw] */
    for (int64_t c = 0; c < ci; c++)
        for (int64_t o = 0; o < co; o++) {
            double g[3][3], t[TT_WINO_MAX_ALPHA][3];
            for (int kh = 0; kh < 3; kh++)
                for (int kw = 0; kw < 3; kw++)
                    g[kh][kw] = hwio[((kh * 3 + kw) * ci + c) * co + o];
            for (int e = 0; e < alpha; e++)
                for (int kw = 0; kw < 3; kw++)
                    t[e][kw] = G[e * 3 + 0] * g[0][kw] + G[e * 3 + 1] * g[1][kw] + G[e * 3 + 2] * g[2][kw];
            for (int e = 0; e < alpha; e++)
                for (int u = 0; u < alpha; u++)
                    out[((e * alpha + u) * co + o) * ci + c] =
                        (float)(t[e][0] * G[u * 3 + 0] + t[e][1] * G[u * 3 + 1] + t[e][2] * G[u * 3 + 2]);
        }
    return 0;
}
