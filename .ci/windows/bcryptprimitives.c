/*
 * Test-only stand-in for Windows' bcryptprimitives.dll, which Wine 8 (Debian 12) lacks.
 *
 * Rust's standard library imports ProcessPrng from bcryptprimitives.dll for its random
 * numbers (HashMap keys and the like) on Windows 10 and later. This DLL exports the same
 * function on top of RtlGenRandom (advapi32's SystemFunction036), which Wine has. It is built
 * by .ci/windows/wine-e2e.sh with MinGW into a throwaway Wine prefix and never shipped.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length)
{
    while (length > 0) {
        ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        length -= chunk;
    }
    return TRUE;
}
