/* fuzz_config.c - libFuzzer target for config_load(): the input is the whole
 * postane.conf, served from a memfd so that no file is left behind. */
#undef NDEBUG /* the assertions are what a fuzz target checks */
#include <assert.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "core/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int fd = -1;
	static char path[64];
	if (fd < 0) {
		fd = memfd_create("fuzz_config", MFD_CLOEXEC);
		if (fd < 0)
			abort();
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	struct config cfg;
	const char *error = NULL;
	int r = config_load(path, &cfg, &error);
	assert(r == 0 ? error == NULL : error != NULL && strlen(error) < 600);
	if (r == 0) {
		/* What validate() promises the rest of the server. */
		assert(cfg.data_dir[0] == '/' && cfg.hostname[0] != '\0');
		assert(strlen(cfg.recipient_delimiter) <= 1);
		assert(cfg.max_line_length >= 512 && cfg.max_message_size >= 1024);
		for (int i = 0; i < LISTENER_COUNT; i++)
			assert(cfg.ports[i] <= 65535);
	}
	config_free(&cfg);
	return 0;
}
