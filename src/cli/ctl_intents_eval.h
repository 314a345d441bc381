#ifndef MASHANG_CTL_INTENTS_EVAL_H
#define MASHANG_CTL_INTENTS_EVAL_H
/* `mashangctl intents eval`: accuracy on a labelled corpus and k-fold
 * cross-validation on the training files, per role. */
int ctl_intents_eval(int argc, char **argv);

#endif
