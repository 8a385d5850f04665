/* SPDX-License-Identifier: MIT */
/* fuzz-protocol: libFuzzer target for bt-spyd's decoder: the input is a
 * byte stream cut into frames, each unpacked and validated as a request
 * (what the daemon does) and as a reply (what clients do). */
#include <stddef.h>
#include <stdint.h>

#include "protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bts_frame_reader *rd = bts_frame_reader_new(BTS_PROTOCOL_MAX_REQUEST);
    const uint8_t *msg;
    size_t len;
    if (!rd)
        return 0;
    /* Fed in two pieces so partial frames are exercised too. */
    size_t half = size ? data[0] % (size + 1) : 0;
    bts_frame_reader_feed(rd, data, half);
    for (int pass = 0; pass < 2; pass++) {
        while (bts_frame_reader_next(rd, &msg, &len) == 1) {
            Btspy__Request *req = bts_protocol_decode_request(msg, len, NULL, 0);
            if (req)
                btspy__request__free_unpacked(req, NULL);
            Btspy__Reply *reply = bts_protocol_decode_reply(msg, len, NULL, 0);
            if (reply)
                btspy__reply__free_unpacked(reply, NULL);
        }
        if (pass == 0)
            bts_frame_reader_feed(rd, data + half, size - half);
    }
    bts_frame_reader_free(rd);
    return 0;
}
