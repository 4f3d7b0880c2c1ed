/* fuzz_frame.c — lotse_frame_decode on arbitrary bytes. A frame that decodes
 * must re-encode to exactly the header it came from, and its payload must be the
 * rest of the input. */
#include <stdlib.h>
#include <string.h>

#include "lotse/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lotse_frame_header h;
    const uint8_t *p;
    size_t plen;
    uint8_t again[LOTSE_FRAME_HEADER_BYTES];

    if (lotse_frame_decode(data, size, &h, &p, &plen) != 0)
        return 0;
    lotse_frame_encode_header(again, &h);
    if (memcmp(again, data, sizeof(again)) != 0)
        abort();
    if (p != data + LOTSE_FRAME_HEADER_BYTES || plen != size - LOTSE_FRAME_HEADER_BYTES)
        abort();
    if (h.seq == 0 || h.flags != 0 || h.version != LOTSE_PROTO_VERSION)
        abort();
    return 0;
}
