/*-------------------------------------------------------------------------
 *
 * cred_profile.c
 *	  Profiles of the AWS shared files of the database server's own
 *	  identity (~/.aws/credentials and ~/.aws/config), and the
 *	  credential_process a profile may name.
 *
 * Both files are INI: the credentials file's sections are profile names
 * ("[ci]"), the config file's are "[default]" and "[profile ci]".  A
 * setting of the credentials file wins over the same setting of the
 * config file, as in the AWS SDKs.  What a profile may hold here:
 * aws_access_key_id / aws_secret_access_key / aws_session_token;
 * credential_process; role_arn with source_profile (and external_id,
 * role_session_name, duration_seconds); region (where its AssumeRole is
 * signed).  credential_source and SSO settings are not read.
 *
 * credential_process runs a program as the database server's OS user:
 * only the server's environment (AWS_CONFIG_FILE, AWS_PROFILE, HOME) and
 * the files it names choose it, never SQL, and it is reached only on the
 * paths where the server's identity may be used (a superuser-owned
 * server, for a superuser or a role a superuser allowed; credentials.c).
 * The program's standard output is read without blocking the backend on
 * it: through the latch, with CHECK_FOR_INTERRUPTS and a time limit
 * (60 seconds); a program that takes longer, or
 * a query cancelled meanwhile, has its process group killed.  Its
 * answer is the JSON the AWS CLI expects (Version 1, AccessKeyId,
 * SecretAccessKey, SessionToken, Expiration), at most 64 kB.
 *
 * IDENTIFICATION
 *	  src/s3/cred_profile.c
 *
 *-------------------------------------------------------------------------
 */
#include "postgres.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "miscadmin.h"
#include "storage/fd.h"
#include "storage/latch.h"
#include "utils/timestamp.h"
#include "utils/wait_event.h"

#include "s3/cred_answer.h"
#include "s3/cred_profile.h"

#define PROCESS_MAX_OUTPUT	(64 * 1024)

/* Seconds a credential_process may take to answer. */
#define PROCESS_TIMEOUT_S	60

/* Set *field (palloc'd) unless the credentials file already did. */
static void
set_once(char **field, const char *value)
{
	if (*field == NULL)
		*field = pstrdup(value);
}

/*
 * Read the section "section" of an INI file into *p (settings not yet
 * set); true if the section exists.
 */
static bool
read_section(const char *path, const char *section, AwsProfile *p)
{
	FILE	   *f;
	char		line[4096];
	bool		in_section = false;
	bool		found = false;

	if (path == NULL || (f = AllocateFile(path, "r")) == NULL)
		return false;
	while (fgets(line, sizeof(line), f) != NULL)
	{
		char	   *s = line;
		char	   *eq;
		char	   *name;
		char	   *value;

		while (*s == ' ' || *s == '\t')
			s++;
		s[strcspn(s, "\r\n")] = '\0';
		if (*s == '#' || *s == ';' || *s == '\0')
			continue;
		if (*s == '[')
		{
			char	   *end = strchr(s, ']');

			if (end)
				*end = '\0';
			/* "[ profile  ci ]" is "[profile ci]" */
			s++;
			while (*s == ' ' || *s == '\t')
				s++;
			if (end)
				while (end > s && (end[-1] == ' ' || end[-1] == '\t'))
					*--end = '\0';
			in_section = strcmp(s, section) == 0;
			found |= in_section;
			continue;
		}
		if (!in_section || (eq = strchr(s, '=')) == NULL)
			continue;
		*eq = '\0';
		name = s;
		value = eq + 1;
		while (*value == ' ' || *value == '\t')
			value++;
		while (eq > name && (eq[-1] == ' ' || eq[-1] == '\t'))
			*--eq = '\0';
		{
			size_t		vlen = strlen(value);

			while (vlen > 0 && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t'))
				value[--vlen] = '\0';
		}
		if (strcmp(name, "aws_access_key_id") == 0)
			set_once(&p->access_key_id, value);
		else if (strcmp(name, "aws_secret_access_key") == 0)
			set_once(&p->secret_access_key, value);
		else if (strcmp(name, "aws_session_token") == 0)
			set_once(&p->session_token, value);
		else if (strcmp(name, "credential_process") == 0)
			set_once(&p->credential_process, value);
		else if (strcmp(name, "role_arn") == 0)
			set_once(&p->role_arn, value);
		else if (strcmp(name, "source_profile") == 0)
			set_once(&p->source_profile, value);
		else if (strcmp(name, "external_id") == 0)
			set_once(&p->external_id, value);
		else if (strcmp(name, "role_session_name") == 0)
			set_once(&p->role_session_name, value);
		else if (strcmp(name, "duration_seconds") == 0)
			set_once(&p->duration_seconds, value);
		else if (strcmp(name, "region") == 0)
			set_once(&p->region, value);
	}
	FreeFile(f);
	explicit_bzero(line, sizeof(line));
	return found;
}

bool
cred_profile_read(const char *credentials_path, const char *config_path, const char *name,
				  AwsProfile *p)
{
	bool		found;

	memset(p, 0, sizeof(*p));
	found = read_section(credentials_path, name, p);
	found |= read_section(config_path, psprintf("profile %s", name), p);
	if (strcmp(name, "default") == 0)
		found |= read_section(config_path, "default", p);
	return found;
}

/* Kill the program's process group and reap it. */
static void
process_kill(pid_t pid)
{
	int			status;

	(void) kill(-pid, SIGKILL);
	(void) kill(pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}

void
cred_process_fetch(const char *command, CredKeys *out)
{
	int			pipefd[2];
	pid_t		pid;
	StringInfoData buf;
	TimestampTz deadline;
	int			status;
	CredAnswer	a;
	CredStatus	st;

	if (pipe(pipefd) < 0)
		ereport(ERROR,
				(errcode_for_file_access(),
				 errmsg("could not create a pipe for credential_process: %m")));
	fflush(NULL);
	pid = fork();
	if (pid < 0)
	{
		close(pipefd[0]);
		close(pipefd[1]);
		ereport(ERROR,
				(errcode(ERRCODE_SYSTEM_ERROR),
				 errmsg("could not start credential_process: %m")));
	}
	if (pid == 0)
	{
		/* the program: its own process group, stdout into the pipe, no stdin */
		int			devnull = open("/dev/null", O_RDONLY);

		(void) setpgid(0, 0);
		if (devnull >= 0)
			(void) dup2(devnull, STDIN_FILENO);
		(void) dup2(pipefd[1], STDOUT_FILENO);
		close(pipefd[0]);
		close(pipefd[1]);
		pqsignal(SIGPIPE, SIG_DFL);
		execl("/bin/sh", "sh", "-c", command, (char *) NULL);
		_exit(127);
	}
	close(pipefd[1]);
	(void) fcntl(pipefd[0], F_SETFL, O_NONBLOCK);
	initStringInfo(&buf);
	deadline = TimestampTzPlusMilliseconds(GetCurrentTimestamp(),
										   PROCESS_TIMEOUT_S * 1000L);
	PG_TRY();
	{
		for (;;)
		{
			char		chunk[4096];
			ssize_t		n = read(pipefd[0], chunk, sizeof(chunk));
			long		left;

			if (n > 0)
			{
				if (buf.len + n > PROCESS_MAX_OUTPUT)
					ereport(ERROR,
							(errcode(ERRCODE_FDW_ERROR),
							 errmsg("credential_process wrote more than %d bytes", PROCESS_MAX_OUTPUT)));
				appendBinaryStringInfo(&buf, chunk, n);
				continue;
			}
			if (n == 0)
				break;			/* end of its output */
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				ereport(ERROR,
						(errcode_for_file_access(),
						 errmsg("could not read the output of credential_process: %m")));
			left = TimestampDifferenceMilliseconds(GetCurrentTimestamp(), deadline);
			if (left <= 0)
				ereport(ERROR,
						(errcode(ERRCODE_FDW_ERROR),
						 errmsg("credential_process did not answer within %d seconds", PROCESS_TIMEOUT_S),
						 errhint("Check the program named by credential_process in the database server's AWS config file.")));
			(void) WaitLatchOrSocket(MyLatch,
									 WL_LATCH_SET | WL_SOCKET_READABLE | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH,
									 pipefd[0], Min(left, 1000L), PG_WAIT_EXTENSION);
			ResetLatch(MyLatch);
			CHECK_FOR_INTERRUPTS();
		}
	}
	PG_CATCH();
	{
		close(pipefd[0]);
		process_kill(pid);
		explicit_bzero(buf.data, buf.len);
		PG_RE_THROW();
	}
	PG_END_TRY();
	close(pipefd[0]);
	/* its output is closed: it is done, or about to be (ECHILD: reaped already) */
	status = 0;
	for (;;)
	{
		pid_t		r = waitpid(pid, &status, WNOHANG);

		if (r == pid || (r < 0 && errno != EINTR))
			break;
		if (GetCurrentTimestamp() >= deadline)
		{
			process_kill(pid);
			status = -1;
			break;
		}
		(void) WaitLatch(MyLatch, WL_LATCH_SET | WL_TIMEOUT | WL_EXIT_ON_PM_DEATH, 10L,
						 PG_WAIT_EXTENSION);
		ResetLatch(MyLatch);
		CHECK_FOR_INTERRUPTS();
	}
	if (status != 0)
	{
		explicit_bzero(buf.data, buf.len);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("credential_process failed"),
				 errdetail("The program %s.", status < 0 ? "did not exit" :
						   WIFEXITED(status) ? psprintf("exited with status %d", WEXITSTATUS(status)) :
						   "was killed by a signal"),
				 errhint("Run the program named by credential_process as the database server's OS user to see what it says.")));
	}
	st = cred_parse_json(buf.data, buf.len, &a);
	explicit_bzero(buf.data, buf.len);
	if (st != CRED_OK)
	{
		cred_answer_free(&a);
		ereport(ERROR,
				(errcode(ERRCODE_FDW_ERROR),
				 errmsg("credential_process gave no credentials"),
				 errdetail("Its output: %s.", cred_status_message(st)),
				 errhint("It must write JSON with Version 1, AccessKeyId, SecretAccessKey and optionally SessionToken and Expiration.")));
	}
	out->access_key_id = pstrdup(a.access_key_id);
	out->secret_access_key = pstrdup(a.secret_access_key);
	out->session_token = a.session_token ? pstrdup(a.session_token) : NULL;
	/* microseconds since 1970 -> since 2000 */
	out->expiration = a.has_expiration ?
		(TimestampTz) (a.expiration - (int64) (POSTGRES_EPOCH_JDATE - UNIX_EPOCH_JDATE) * USECS_PER_DAY) : 0;
	cred_answer_free(&a);
}
