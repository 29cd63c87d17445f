/*
 * json_transcript.h - the original 2015 Go server and clients speaking
 * JSON (tests/data/wire/go-json-transcript.txt), as a script of sends and
 * receives per client: client 1 (goecho56782) serves "echo", client 2
 * (gocli56782) initiates. Where the capture shows a delivery before the
 * send that caused it, the send comes first. Shared by
 * tests/integration/test_transcript.c (one broker) and
 * test_cluster_clients.c (two brokers).
 */
#ifndef MP_TEST_JSON_TRANSCRIPT_H
#define MP_TEST_JSON_TRANSCRIPT_H

#include <stddef.h>

enum action { SEND, RECV, SEND_EOF, RECV_EOF };

struct step {
    int client;          /* 1 or 2 */
    enum action action;
    const char *line;    /* without the '\n' */
};

static const struct step script[] = {
    { 1, SEND, "{\"Meta\":8,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"\",\"Data\":\"Tm8gcGFzc3dvcmQgbmVlZGVkIQ==\"}" },
    { 1, RECV, "{\"Meta\":9,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"\",\"Data\":null}" },
    { 2, SEND, "{\"Meta\":8,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"\",\"Data\":\"Tm8gcGFzc3dvcmQgbmVlZGVkIQ==\"}" },
    { 2, RECV, "{\"Meta\":9,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"\",\"Data\":null}" },
    { 2, SEND, "{\"Meta\":5,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"ZWNobw==\"}" },
    { 1, RECV, "{\"Meta\":5,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"ZWNobw==\"}" },
    { 1, SEND, "{\"Meta\":6,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":null}" },
    { 2, RECV, "{\"Meta\":6,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":null}" },
    { 2, SEND, "{\"Meta\":0,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"bXNnIDAgPCY+\"}" },
    { 1, RECV, "{\"Meta\":0,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"bXNnIDAgPCY+\"}" },
    { 1, SEND, "{\"Meta\":0,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"bXNnIDAgPCY+\"}" },
    { 2, RECV, "{\"Meta\":0,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"bXNnIDAgPCY+\"}" },
    /* capture order: c1< before c2> */
    { 2, SEND, "{\"Meta\":0,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"AAEC/woi\"}" },
    { 1, RECV, "{\"Meta\":0,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"AAEC/woi\"}" },
    { 1, SEND, "{\"Meta\":0,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"AAEC/woi\"}" },
    { 2, RECV, "{\"Meta\":0,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":\"AAEC/woi\"}" },
    /* capture order: c1< before c2> */
    { 2, SEND, "{\"Meta\":7,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":null}" },
    { 1, RECV, "{\"Meta\":7,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:0\",\"Data\":null}" },
    { 2, SEND, "{\"Meta\":5,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:1\",\"Data\":\"bm9zdWNocHJvdG8=\"}" },
    { 1, RECV, "{\"Meta\":5,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:1\",\"Data\":\"bm9zdWNocHJvdG8=\"}" },
    { 1, SEND, "{\"Meta\":3,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:1\",\"Data\":null}" },
    { 2, RECV, "{\"Meta\":3,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:1\",\"Data\":null}" },
    { 2, SEND, "{\"Meta\":5,\"OtherClient\":\"absent56782\",\"ConnectionID\":\"gocli56782:2\",\"Data\":\"ZWNobw==\"}" },
    { 2, RECV, "{\"Meta\":2,\"OtherClient\":\"absent56782\",\"ConnectionID\":\"gocli56782:2\",\"Data\":\"ZWNobw==\"}" },
    { 2, SEND, "{\"Meta\":5,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:3\",\"Data\":\"ZWNobw==\"}" },
    { 1, RECV, "{\"Meta\":5,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:3\",\"Data\":\"ZWNobw==\"}" },
    { 1, SEND, "{\"Meta\":6,\"OtherClient\":\"gocli56782\",\"ConnectionID\":\"gocli56782:3\",\"Data\":null}" },
    { 2, RECV, "{\"Meta\":6,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"gocli56782:3\",\"Data\":null}" },
    { 1, SEND_EOF, NULL },
    { 2, RECV, "{\"Meta\":4,\"OtherClient\":\"goecho56782\",\"ConnectionID\":\"\",\"Data\":null}" },
    { 1, RECV_EOF, NULL },
    { 2, SEND_EOF, NULL },
    { 2, RECV_EOF, NULL },
};

#define JSON_TRANSCRIPT_LEN (sizeof script / sizeof script[0])

#endif
