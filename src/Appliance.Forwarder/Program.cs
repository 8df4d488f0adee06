// The forwarding service host is built in the forwarding-service work; this entry point only exists so the
// solution builds while that lands.
return 0;
