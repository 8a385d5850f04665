/* SPDX-License-Identifier: MIT */
/* fixture-child: fork/exec of fixture programs for the symbols tests. */
#define _GNU_SOURCE

#include "fixture-child.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

const char *fixture_path(const char *name)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/%s", FIXTURE_DIR, name);
    return path;
}

int fixture_child_start(struct fixture_child *c, const char *name)
{
    memset(c, 0, sizeof(*c));
    c->pid = -1;
    c->to_child = -1;
    int in[2], out[2];
    if (pipe2(in, O_CLOEXEC) != 0)
        return -1;
    if (pipe2(out, O_CLOEXEC) != 0) {
        close(in[0]);
        close(in[1]);
        return -1;
    }
    const char *path = fixture_path(name);
    pid_t pid = fork();
    if (pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        execl(path, path, (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    c->pid = pid;
    c->to_child = in[1];
    c->from_child = fdopen(out[0], "r");
    if (pid < 0 || !c->from_child)
        return -1;
    char line[256];
    while (fgets(line, sizeof(line), c->from_child)) {
        if (strcmp(line, "ready\n") == 0)
            return 0;
        char key[32];
        char value[64];
        if (c->count < FIXTURE_CHILD_MAX_LINES && sscanf(line, "%31s %63s", key, value) == 2) {
            strcpy(c->keys[c->count], key);
            c->values[c->count] = strtoull(value, NULL, 0);
            c->count++;
        }
    }
    return -1;
}

uint64_t fixture_child_value(const struct fixture_child *c, const char *key)
{
    for (int i = 0; i < c->count; i++)
        if (strcmp(c->keys[i], key) == 0)
            return c->values[i];
    return 0;
}

void fixture_child_stop(struct fixture_child *c)
{
    if (c->to_child >= 0)
        close(c->to_child);
    if (c->from_child)
        fclose(c->from_child);
    if (c->pid > 0) {
        int status;
        if (waitpid(c->pid, &status, WNOHANG) == 0) {
            /* It exits on EOF; give it a moment, then make sure. */
            for (int i = 0; i < 200 && waitpid(c->pid, &status, WNOHANG) == 0; i++)
                usleep(5000);
            if (kill(c->pid, 0) == 0) {
                kill(c->pid, SIGKILL);
                waitpid(c->pid, &status, 0);
            }
        }
    }
    c->pid = -1;
    c->to_child = -1;
    c->from_child = NULL;
}
