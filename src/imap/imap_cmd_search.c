/* imap_cmd_search.c - SEARCH, SORT, THREAD (being written: until then the
 * commands answer NO and the capabilities promise them in vain). */
#include "imap/imap_private.h"

static void not_yet(struct imap_session *s, const struct imap_command *cmd)
{
	imap_tagged(s, cmd, "NO", "[SERVERBUG] %s is not available yet", cmd->name);
}

void imap_cmd_search(struct imap_session *s, const struct imap_command *cmd)
{
	not_yet(s, cmd);
}

void imap_cmd_uid_search(struct imap_session *s, const struct imap_command *cmd)
{
	not_yet(s, cmd);
}

void imap_cmd_sort(struct imap_session *s, const struct imap_command *cmd)
{
	not_yet(s, cmd);
}

void imap_cmd_uid_sort(struct imap_session *s, const struct imap_command *cmd)
{
	not_yet(s, cmd);
}

void imap_cmd_thread(struct imap_session *s, const struct imap_command *cmd)
{
	not_yet(s, cmd);
}

void imap_cmd_uid_thread(struct imap_session *s, const struct imap_command *cmd)
{
	not_yet(s, cmd);
}
