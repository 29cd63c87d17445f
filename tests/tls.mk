# TLS listeners, libmpclient tls:, auth_cert (issue 5).
