// A small CUDA program for tests/device/cuda_container_cdi.sh: it runs inside a
// container whose GPU access comes only from the CDI spec (device nodes, libcuda).
// Built with the CUDA runtime linked statically, so the only GPU library it needs
// from outside is the driver's libcuda.so.1. It computes sum(i*i) for i < N on the
// GPU and compares it with the closed form; exit 0 only when they agree.
#include <cstdio>
#include <cuda_runtime.h>

__global__ void squares(unsigned long long *out, unsigned int n) {
  unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) atomicAdd(out, (unsigned long long)i * i);
}

int main() {
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    printf("cuda-check: cudaGetDeviceCount failed: %d %s\n", (int)err, cudaGetErrorString(err));
    return 2;
  }
  int driver = 0, runtime = 0;
  cudaDriverGetVersion(&driver);
  cudaRuntimeGetVersion(&runtime);
  printf("cuda-check: devices=%d driver_api=%d runtime=%d\n", count, driver, runtime);
  for (int d = 0; d < count; ++d) {
    cudaDeviceProp p;
    cudaGetDeviceProperties(&p, d);
    printf("cuda-check: device %d: %s sm_%d%d pci=%04x:%02x:%02x\n", d, p.name, p.major, p.minor,
           p.pciDomainID, p.pciBusID, p.pciDeviceID);
  }
  const unsigned int n = 1u << 20;
  unsigned long long *dev = nullptr, got = 0;
  if ((err = cudaMalloc(&dev, sizeof got)) != cudaSuccess ||
      (err = cudaMemset(dev, 0, sizeof got)) != cudaSuccess) {
    printf("cuda-check: allocation failed: %s\n", cudaGetErrorString(err));
    return 3;
  }
  squares<<<(n + 255) / 256, 256>>>(dev, n);
  if ((err = cudaGetLastError()) != cudaSuccess ||
      (err = cudaMemcpy(&got, dev, sizeof got, cudaMemcpyDeviceToHost)) != cudaSuccess) {
    printf("cuda-check: kernel failed: %s\n", cudaGetErrorString(err));
    return 4;
  }
  cudaFree(dev);
  unsigned long long m = n - 1;
  unsigned long long want = m * (m + 1) / 2 * (2 * m + 1) / 3;  // sum of i*i, i = 0..m
  printf("cuda-check: sum of i*i for i < %u: gpu=%llu expected=%llu %s\n", n, got, want,
         got == want ? "PASS" : "FAIL");
  return got == want ? 0 : 1;
}
