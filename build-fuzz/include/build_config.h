#pragma once
#define KEEPFTPD_VERSION "0.1.0"
#define KEEPFTPD_SYSCONFDIR "/etc"
#define KEEPFTPD_TEST_HOOKS 0
