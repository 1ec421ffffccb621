/* Wine 8 lacks ProcessPrng, which Rust >= 1.78 binaries (python-calamine) import from
   bcryptprimitives.dll; Windows has it. Test bed only: forwards to RtlGenRandom. */
#include <windows.h>
#define RtlGenRandom SystemFunction036
BOOLEAN NTAPI RtlGenRandom(PVOID buffer, ULONG length);
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    return RtlGenRandom(data, (ULONG)length);
}
