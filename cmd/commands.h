/* The subcommands of the ward multi-call binary: each is cmd/<name>.c. */
#ifndef WARD_CMD_COMMANDS_H
#define WARD_CMD_COMMANDS_H

int cmd_c4gh_main(int argc, char **argv);
int cmd_keygen_main(int argc, char **argv);
int cmd_echo_main(int argc, char **argv); /* cmd/echo.c: dispatches to the cmd_echo_* below */
int cmd_echo_anonymise_main(int argc, char **argv);
int cmd_echo_analyse_main(int argc, char **argv);
int cmd_echo_frames_main(int argc, char **argv);
int cmd_echo_synth_main(int argc, char **argv);
int cmd_cas_main(int argc, char **argv);     /* cmd/cas.c: key service (services/cas) */
int cmd_session_main(int argc, char **argv); /* cmd/session.c: owner client of the key service */
int cmd_las_main(int argc, char **argv);     /* cmd/las.c: local attestation service */
int cmd_measure_main(int argc, char **argv); /* cmd/measure.c */
int cmd_run_main(int argc, char **argv);     /* cmd/run.c + cmd/run_exec.c */
int cmd_vcf_main(int argc, char **argv);     /* cmd/vcf.c: encrypt, process, query */

#endif
