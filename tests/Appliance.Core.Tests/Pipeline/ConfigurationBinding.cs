using System.Text;
using Appliance.Core.Pipeline;
using Microsoft.Extensions.Configuration;

namespace Appliance.Core.Tests.Pipeline;

/// <summary>Binds <see cref="PipelineOptions"/> from appsettings-style JSON, as the service does.</summary>
internal static class ConfigurationBinding
{
    public static PipelineOptions Bind(string json)
    {
        using var stream = new MemoryStream(Encoding.UTF8.GetBytes(json));
        var configuration = new ConfigurationBuilder().AddJsonStream(stream).Build();
        var options = new PipelineOptions();
        configuration.GetSection(PipelineOptions.SectionName).Bind(options);
        return options;
    }
}
