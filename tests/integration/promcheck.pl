#!/usr/bin/perl
# promcheck.pl - check a file against the Prometheus text exposition format
# (version 0.0.4), strictly: what a scraper would refuse, and what it would
# take but get wrong.
#
#   perl promcheck.pl FILE
#
# Checks: every line is "# HELP name text", "# TYPE name type" (counter,
# gauge, histogram, summary, untyped), another comment, or a sample
# "name{label="value",...} value"; metric and label names match the
# format's patterns; label values use only the \\ \" \n escapes; values
# are floats (or NaN/+Inf/-Inf); HELP and TYPE come at most once per
# family, before its samples; a family's samples are contiguous; no two
# samples have the same name and labels; counters are not negative;
# a histogram has _bucket samples with ascending "le", non-decreasing
# counts, a "+Inf" bucket equal to _count.  Prints "ok N families" or the
# first problems with line numbers, and exits 0 or 1.
use strict;
use warnings;

my $file = shift or die "usage: promcheck.pl FILE\n";
open my $fh, '<', $file or die "promcheck: $file: $!\n";
my $NAME = qr/[a-zA-Z_:][a-zA-Z0-9_:]*/;
my $LNAME = qr/[a-zA-Z_][a-zA-Z0-9_]*/;
my $FLOAT = qr/[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?|NaN|[-+]Inf/;
my (%type, %help, %done, %seen, @errors, $cur, %hist);

sub err { push @errors, "line $.: $_[0]" }

# family - the family a sample name belongs to
sub family {
	my $n = shift;
	for my $suf (qw(_bucket _sum _count)) {
		next unless $n =~ /^(.*)\Q$suf\E$/;
		my $base = $1;
		return $base if ($type{$base} // '') =~ /^(?:histogram|summary)$/;
	}
	return $n;
}

while (my $line = <$fh>) {
	chomp $line;
	next if $line eq '';
	if ($line =~ /^#\s*(HELP|TYPE)\s+(\S+)(?:\s+(.*))?$/) {
		my ($what, $name, $rest) = ($1, $2, $3 // '');
		err("bad metric name \"$name\"") unless $name =~ /^$NAME$/;
		if ($what eq 'TYPE') {
			err("second TYPE for $name") if exists $type{$name};
			err("TYPE for $name after its samples") if $seen{$name};
			err("unknown type \"$rest\"")
				unless $rest =~ /^(counter|gauge|histogram|summary|untyped)$/;
			$type{$name} = $rest;
		} else {
			err("second HELP for $name") if exists $help{$name};
			err("bad escape in HELP") if $rest =~ /\\[^\\n]/;
			$help{$name} = $rest;
		}
		next;
	}
	next if $line =~ /^#/;
	unless ($line =~ /^($NAME)(?:\{(.*)\})?\s+(\S+)(?:\s+(-?[0-9]+))?$/) {
		err("not a sample: $line");
		next;
	}
	my ($name, $labels, $value) = ($1, $2 // '', $3);
	err("bad value \"$value\"") unless $value =~ /^(?:$FLOAT)$/;
	my (%l, @order);
	my $rest = $labels;
	while ($rest ne '') {
		unless ($rest =~ s/^($LNAME)="((?:[^"\\\n]|\\[\\"n])*)"(?:,|$)//) {
			err("bad labels {$labels}");
			last;
		}
		err("label $1 twice") if exists $l{$1};
		$l{$1} = $2;
		push @order, $1;
	}
	my $fam = family($name);
	if (!defined $cur || $cur ne $fam) {
		err("samples of $fam are not together") if $done{$fam};
		$done{$cur} = 1 if defined $cur;
		$cur = $fam;
	}
	$seen{$fam} = 1;
	my $key = $name . '{' . join(',', map { "$_=$l{$_}" } sort keys %l) . '}';
	err("second sample $key") if $seen{"sample $key"}++;
	my $t = $type{$fam} // 'untyped';
	err("negative counter $key") if $t eq 'counter' && $value =~ /^-/;
	if ($t eq 'histogram') {
		my $id = join(',', map { "$_=$l{$_}" } grep { $_ ne 'le' } sort keys %l);
		if ($name eq "${fam}_bucket") {
			err("bucket without le") unless exists $l{le};
			my $le = $l{le} // '';
			my $lev = $le eq '+Inf' ? 9**9**9 : $le;
			err("bad le \"$le\"") unless $le =~ /^(?:$FLOAT)$/;
			my $h = $hist{"$fam $id"} //= { le => -9**9**9, n => 0 };
			err("le $le not ascending") if $lev <= $h->{le};
			err("bucket count $value below the one before") if $value < $h->{n};
			($h->{le}, $h->{n}) = ($lev, $value);
			$h->{inf} = $value if $le eq '+Inf';
		} elsif ($name eq "${fam}_count") {
			$hist{"$fam $id"}{count} = $value;
		}
	}
}
for my $k (sort keys %hist) {
	my $h = $hist{$k};
	push @errors, "$k: no +Inf bucket" unless defined $h->{inf};
	push @errors, "$k: no _count" unless defined $h->{count};
	push @errors, "$k: +Inf bucket $h->{inf} differs from _count $h->{count}"
		if defined $h->{inf} && defined $h->{count} && $h->{inf} != $h->{count};
}
for my $f (sort keys %type) {
	push @errors, "TYPE for $f but no sample" unless $seen{$f};
}
if (@errors) {
	print STDERR "promcheck: $file: $_\n" for @errors[0 .. ($#errors < 9 ? $#errors : 9)];
	exit 1;
}
printf "ok %d families\n", scalar grep { !/^sample / } keys %seen;
exit 0;
