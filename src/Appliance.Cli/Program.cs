// appliancectl is built in the operations-surface work.
return 0;
