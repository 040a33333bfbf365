"""
Tests for L{twisted_netlab.mail._servers}: the named servers of
``netlab mail --server NAME`` and the user's servers file.
"""

import os

from twisted.trial.unittest import SynchronousTestCase

from twisted_netlab.mail._servers import (
    NamedServer,
    ServerConfigError,
    builtin_servers,
    config_path,
    default_data_dir,
    keyring_password,
    lab_certificate,
    load_servers,
    parse_servers,
)

PATH = "/home/u/.config/netlab/mail-servers.toml"


class BuiltinTests(SynchronousTestCase):
    def test_builtins(self):
        """
        gmail and office365 are the providers' port 587 with STARTTLS
        required; lab is the local sink with its generated certificate.
        """
        environ = {"XDG_DATA_HOME": "/d", "HOME": "/home/u"}
        servers = builtin_servers(environ)
        self.assertEqual(servers["gmail"], NamedServer("gmail", "smtp.gmail.com", 587, "required"))
        self.assertEqual(servers["office365"], NamedServer("office365", "smtp.office365.com", 587, "required"))
        self.assertEqual(
            servers["lab"], NamedServer("lab", "127.0.0.1", 2525, "required", cafile="/d/netlab/mailsink/tls/certificate.pem")
        )

    def test_xdg_paths(self):
        """
        XDG folders when absolute, else the XDG defaults under HOME.
        """
        self.assertEqual(config_path({"XDG_CONFIG_HOME": "/c", "HOME": "/h"}), "/c/netlab/mail-servers.toml")
        self.assertEqual(config_path({"XDG_CONFIG_HOME": "rel", "HOME": "/h"}), "/h/.config/netlab/mail-servers.toml")
        self.assertEqual(default_data_dir({"HOME": "/h"}), "/h/.local/share/netlab/mailsink")
        self.assertEqual(lab_certificate({"XDG_DATA_HOME": "/x"}), "/x/netlab/mailsink/tls/certificate.pem")


class ParseTests(SynchronousTestCase):
    def test_full_entry(self):
        """
        Every key is read; relative paths are relative to the file; the
        port defaults to 587 (465 for implicit TLS).
        """
        servers = parse_servers(
            '[servers.school]\nhost = "smtp.school.example"\nport = 2587\ntls = "opportunistic"\n'
            'user = "alice"\ncafile = "school-ca.pem"\npassword-file = "~/school.pw"\n'
            '[servers.tls465]\nhost = "mx.example.org"\ntls = "implicit"\n'
            '[servers.plain]\nhost = "mx.example.org"\n',
            PATH,
        )
        self.assertEqual(
            servers["school"],
            NamedServer(
                "school", "smtp.school.example", 2587, "opportunistic", user="alice",
                cafile="/home/u/.config/netlab/school-ca.pem",
                password_file=os.path.expanduser("~/school.pw"), origin=PATH,
            ),
        )
        self.assertEqual((servers["tls465"].port, servers["plain"].port), (465, 587))

    CASES = [
        ('[servers.a]\nhost = "h"\npassword = "x"\n', "never written in this file"),
        ('[servers.a]\nport = 25\n', "host must be"),
        ('[servers.a]\nhost = "h"\nport = 70000\n', "port must be"),
        ('[servers.a]\nhost = "h"\nport = true\n', "port must be"),
        ('[servers.a]\nhost = "h"\ntls = "maybe"\n', "tls must be"),
        ('[servers.a]\nhost = "h"\ncolour = "x"\n', "unknown key 'colour'"),
        ('[servers.a]\nhost = "h"\npassword-file = "p"\n', "needs user"),
        ('[servers.a]\nhost = "h"\nuser = "u"\npassword-file = "p"\npassword-keyring = "k"\n', "not both"),
        ('[servers."a b"]\nhost = "h"\n', "a name is"),
        ('[other]\nx = 1\n', "unknown top-level key"),
        ('[servers.a\n', "not valid TOML"),
    ]

    def test_refusals(self):
        """
        Each bad file is refused with one line naming the file and the problem.
        """
        for text, expected in self.CASES:
            with self.assertRaises(ServerConfigError, msg=text) as caught:
                parse_servers(text, PATH)
            self.assertIn(expected, str(caught.exception), text)
            self.assertTrue(str(caught.exception).startswith(PATH), text)


class LoadTests(SynchronousTestCase):
    def test_user_file_adds_servers_but_cannot_hide_builtins(self):
        """
        A missing file means the built-ins only; the user's servers are
        added; a user's server named gmail is refused.
        """
        home = os.path.abspath(self.mktemp())
        environ = {"XDG_CONFIG_HOME": home, "HOME": home}
        self.assertEqual(sorted(load_servers(environ)), ["gmail", "lab", "office365"])
        os.makedirs(os.path.join(home, "netlab"))
        with open(os.path.join(home, "netlab", "mail-servers.toml"), "w") as handle:
            handle.write('[servers.mine]\nhost = "127.0.0.1"\nport = 2526\n')
        self.assertEqual(load_servers(environ)["mine"].port, 2526)
        with open(os.path.join(home, "netlab", "mail-servers.toml"), "w") as handle:
            handle.write('[servers.gmail]\nhost = "127.0.0.1"\n')
        with self.assertRaises(ServerConfigError):
            load_servers(environ)


class KeyringTests(SynchronousTestCase):
    def test_keyring_is_optional(self):
        """
        Without the keyring package the error says how to get it or what
        to use instead; with it, the entry for (service, user) is used and
        a missing entry is an error.
        """

        def no_keyring(name):
            raise ImportError(name)

        with self.assertRaises(ServerConfigError) as caught:
            keyring_password("school", "alice", importer=no_keyring)
        self.assertIn("pip install keyring", str(caught.exception))

        class FakeKeyring:
            @staticmethod
            def get_password(service, user):
                return {("school", "alice"): "from keyring"}.get((service, user))

        self.assertEqual(keyring_password("school", "alice", importer=lambda name: FakeKeyring), "from keyring")
        with self.assertRaises(ServerConfigError):
            keyring_password("school", "bob", importer=lambda name: FakeKeyring)
