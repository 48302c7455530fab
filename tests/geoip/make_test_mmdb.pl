#!/usr/bin/perl
# Writes the small MaxMind DB files the GeoIP tests read (Debian's libmaxmind-db-writer-perl), in
# the two layouts the aggregator reads: MaxMind/DB-IP (country.iso_code) and ip-location-db
# (country_code), and an ASN database as GeoLite2-ASN, DB-IP and ip-location-db all write it.
#
#   make_test_mmdb.pl country   FILE   192.0.2.0/24 NL, 2001:db8::/32 JP (country.iso_code)
#   make_test_mmdb.pl country-code FILE  the same, as ip-location-db writes it (country_code)
#   make_test_mmdb.pl asn       FILE   198.51.100.0/24 AS64500 "Example Transit", 2001:db8::/32 AS64501
#                                      "Example Six", 192.0.2.0/25 AS64496 "Example Net"
# The documentation networks are reserved, which the writer leaves out unless told otherwise.
use strict;
use warnings;
use MaxMind::DB::Writer::Tree;

my ($kind, $file) = @ARGV;
die "usage: $0 country|country-code|asn FILE\n" unless defined $file;

my %types = (
    country                        => 'map',
    iso_code                       => 'utf8_string',
    country_code                   => 'utf8_string',
    autonomous_system_number       => 'uint32',
    autonomous_system_organization => 'utf8_string',
);
my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    record_size              => 24,
    database_type            => $kind eq 'asn' ? 'fleetban-test-ASN' : 'fleetban-test-Country',
    languages                => ['en'],
    description              => { en => 'fleetban test database' },
    map_key_type_callback    => sub { $types{ $_[0] } },
    remove_reserved_networks => 0,
);

my %networks;
if ($kind eq 'country') {
    %networks = ('192.0.2.0/24' => { country => { iso_code => 'NL' } },
                 '2001:db8::/32' => { country => { iso_code => 'JP' } });
} elsif ($kind eq 'country-code') {
    %networks = ('192.0.2.0/24' => { country_code => 'NL' }, '2001:db8::/32' => { country_code => 'JP' });
} elsif ($kind eq 'asn') {
    %networks = (
        '192.0.2.0/25'    => { autonomous_system_number => 64496, autonomous_system_organization => 'Example Net' },
        '198.51.100.0/24' => { autonomous_system_number => 64500, autonomous_system_organization => 'Example Transit' },
        '2001:db8::/32'   => { autonomous_system_number => 64501, autonomous_system_organization => 'Example Six' },
    );
} else {
    die "$0: unknown kind '$kind'\n";
}
$tree->insert_network($_, $networks{$_}) for sort keys %networks;

open my $out, '>:raw', $file or die "$0: $file: $!\n";
$tree->write_tree($out);
close $out or die "$0: $file: $!\n";
