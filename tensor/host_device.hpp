// MTTT_HD marks a function callable on the host and, when nvcc compiles it, on a GPU: the
// kernels the Thrust backend shares between its host and CUDA instantiations.
#pragma once

#if defined(__CUDACC__)
#define MTTT_HD __host__ __device__
#else
#define MTTT_HD
#endif
