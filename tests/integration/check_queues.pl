#!/usr/bin/perl
# check_queues.pl [--qmqp] BASE [REF...] - the on-disk state of BASE/queue*
# is consistent, with no writer running (used by the integration tests).
#
# Every message must be whole and committed:
#   pid/ is empty (no marker of a writer, live or dead);
#   every todo/<id> is a hard link of intd/<id> and has mess/<id % split>/<id>;
#   no intd/ and no mess/ file lacks its todo/ entry (nothing partial);
#   intd holds exactly u<uid>\0p<pid>\0F<sender>\0 then T<rcpt>\0 records;
#   mess starts with qmail-queue's Received line, whose pid is intd's p.
# With REF files (messages exactly as qqsim generated them, without
# "-i"), the rest of each mess file, minus an "X-Qqsim-Id:" first line, must
# be one of them byte for byte (a message cut short fails).
#
# --qmqp: the messages came in by QMQP (sluice-qmqpd in front of sluiced):
# qmail-qmqpd's "Received: from ... with QMQP; <date>" line must follow
# sluiced's own, and is not part of the message compared with REF.
#
# Prints "msg QUEUE/ID id QQSIM-ID bytes N" per message ("-" without an id)
# and exits 0; or prints each problem on stderr and exits 1.
use strict;
use warnings;

my $qmqp = 0;
if (@ARGV && $ARGV[0] eq '--qmqp') {
	$qmqp = 1;
	shift @ARGV;
}
my ($base, @refs) = @ARGV;
die "usage: check_queues.pl BASE [REF...]\n" unless defined $base && -d $base;

my %ref;	# length => [contents]
for my $f (@refs) {
	open my $fh, '<:raw', $f or die "$f: $!\n";
	local $/;
	my $c = <$fh>;
	push @{ $ref{ length $c } }, $c;
}

my @err;
sub bad { push @err, join('', @_); }

sub slurp {
	my ($f) = @_;
	open my $fh, '<:raw', $f or return undef;
	local $/;
	my $c = <$fh>;
	return defined $c ? $c : '';
}

sub entries {
	my ($dir) = @_;
	opendir my $dh, $dir or do { bad("cannot list $dir: $!"); return (); };
	my @e = grep { !/^\.\.?$/ } readdir $dh;
	closedir $dh;
	return @e;
}

my @queues = sort grep { -d } glob("$base/queue*");
bad("no queues under $base") unless @queues;

for my $q (@queues) {
	(my $qn = $q) =~ s{.*/}{};
	for my $p (entries("$q/pid")) {
		bad("$qn: pid/$p left behind");
	}
	my @splitdirs = grep { /^\d+$/ && -d "$q/mess/$_" } entries("$q/mess");
	my $split = @splitdirs;
	my %mess;	# id => path
	for my $d (@splitdirs) {
		for my $id (entries("$q/mess/$d")) {
			if ($id !~ /^\d+$/) {
				bad("$qn: mess/$d/$id: not a message id");
				next;
			}
			bad("$qn: mess/$d/$id is in the wrong split directory (split $split)")
				if $id % $split != $d;
			$mess{$id} = "$q/mess/$d/$id";
		}
	}
	my %todo = map { $_ => 1 } entries("$q/todo");
	my %intd = map { $_ => 1 } entries("$q/intd");
	for my $id (sort keys %intd) {
		bad("$qn: intd/$id without todo/$id (uncommitted leftover)") unless $todo{$id};
	}
	for my $id (sort keys %mess) {
		bad("$qn: mess $mess{$id} without todo/$id (partial or uncommitted leftover)")
			unless $todo{$id};
	}
	for my $id (sort { $a <=> $b } keys %todo) {
		my @t = stat("$q/todo/$id");
		my @i = stat("$q/intd/$id");
		if (!@i) {
			bad("$qn: todo/$id without intd/$id");
			next;
		}
		if ($t[0] != $i[0] || $t[1] != $i[1]) {
			bad("$qn: todo/$id is not a hard link of intd/$id");
		}
		if (!$mess{$id}) {
			bad("$qn: todo/$id without its mess file");
			next;
		}
		my $env = slurp("$q/intd/$id");
		my ($u, $p);
		if ($env =~ /\Au(\d+)\0p(\d+)\0F[^\0]*\0(?:T[^\0]*\0)+\z/) {
			($u, $p) = ($1, $2);
		} else {
			(my $show = $env) =~ s/\0/\\0/g;
			bad("$qn: intd/$id is not u p F T... records: '$show'");
			next;
		}
		my $m = slurp($mess{$id});
		if ($m !~ s/\AReceived: \(qmail (\d+) invoked (?:from network|by alias|for bounce|by uid \d+)\); \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d -0000\n//) {
			bad("$qn: $mess{$id} does not start with a Received line: '"
			    . substr($m, 0, 80) . "'");
			next;
		}
		my $rpid = $1;
		bad("$qn: message $id: Received line says qmail $rpid, intd says p$p")
			if $rpid != $p;
		if ($qmqp && $m !~ s/\AReceived: from [^\n]*\n  by [^\n]* with QMQP; [^\n]*\n//) {
			bad("$qn: $mess{$id}: no qmail-qmqpd Received line after sluiced's: '"
			    . substr($m, 0, 80) . "'");
			next;
		}
		my $qid = '-';
		$qid = $1 if $m =~ s/\AX-Qqsim-Id: (\S+)\n//;
		if (@refs) {
			my $ok = grep { $_ eq $m } @{ $ref{ length $m } || [] };
			bad("$qn: message $id ($qid): body of " . length($m)
			    . " bytes is not a message qqsim sent (cut short?)") unless $ok;
		}
		print "msg $qn/$id id $qid bytes ", -s $mess{$id}, "\n";
	}
}

if (@err) {
	my $n = @err;
	print STDERR "check_queues: $_\n" for @err[0 .. ($n > 30 ? 29 : $n - 1)];
	print STDERR "check_queues: ... and ", $n - 30, " more\n" if $n > 30;
	exit 1;
}
exit 0;
