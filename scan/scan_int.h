/*
 * scan_int.h - private to scan/, the daemon's reload timer and the tests.
 *
 *	One section per source file; add yours, do not reorder the others.
 */
#ifndef SLUICE_SCAN_INT_H
#define SLUICE_SCAN_INT_H

#include "scan.h"

/* scan_clamav.c */

#define SCAN_CLAMAV_SYSDB "/var/lib/clamav"	/* freshclam's directory */

/*
 * scan_clamav_changed - 1 when the signature directory changed since the
 * serving engine was loaded (cl_statchkdir, plus the directory's own mtime
 * so that added and removed files count too), else 0.  Cheap: meant for a
 * timer.  0 as well while a reload is running.
 */
int scan_clamav_changed(void *state);

/*
 * scan_clamav_dbdir - the signature directory init uses: cfgdir, else
 * envdir (SLUICE_CLAMDB), else sysdir when it holds a database, else
 * shipped (the starter DB).  Empty strings count as unset.
 */
const char *scan_clamav_dbdir(const char *cfgdir, const char *envdir, const char *sysdir,
			      const char *shipped);

/*
 * scan_attach.c, scan_mime.c, scan_mime_param.c, scan_mime_body.c,
 * scan_zip.c, scan_embed.c: the MIME walker, zip lister, gzip/TNEF/tar name
 * readers and banned-name match have their
 * own private header, scan_mime.h (also used by tests/fuzz).
 */

#endif
