using Appliance.Cli;

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    cancel.Cancel();
};
return await ApplianceCtl.RunAsync(args, Console.Out, Console.Error, ct: cancel.Token);
